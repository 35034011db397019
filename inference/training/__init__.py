"""Fine-tuning a LoRA adapter with TRL, on whatever device is present: supervised
(`sft`), or from preferences (`dpo`, `kto`) on what the export writes.

This package needs no Django, so the same code runs from `manage.py finetune` and, on a
machine with only the ML stack (a GPU box), as `python -m inference.training`. How a run
is laid out, resumed and recorded, and how an existing adapter is continued, is in
`inference.training.common`.
"""

from __future__ import annotations

from pathlib import Path

from inference.training.common import (
    ADAPTER_DIR,
    HYPERPARAMETERS,
    LORA_TARGETS,
    METHODS,
    RECORD_FILE,
    DPOHyperparameters,
    Hyperparameters,
    KTOHyperparameters,
    StepProgress,
    TrainingResult,
    device_name,
    hyperparameter_names,
    make_hyperparameters,
    resolve_data_file,
    write_model_card,
)
from inference.training.preference import train_dpo, train_kto
from inference.training.sft import to_prompt_completion, train_sft

__all__ = [
    "ADAPTER_DIR", "HYPERPARAMETERS", "LORA_TARGETS", "METHODS", "RECORD_FILE",
    "DPOHyperparameters", "Hyperparameters", "KTOHyperparameters", "StepProgress",
    "TrainingResult", "device_name", "hyperparameter_names", "make_hyperparameters",
    "resolve_data_file", "to_prompt_completion", "train", "train_dpo", "train_kto",
    "train_sft", "write_model_card",
]

_TRAINERS = {"sft": train_sft, "dpo": train_dpo, "kto": train_kto}


def train(method: str, data: Path, base_model_dir: Path, output: Path,
          hparams: Hyperparameters, *, base_model_name: str = "",
          adapter_dir: Path | None = None, fresh: bool = False, save_steps: int = 20,
          progress: StepProgress | None = None) -> TrainingResult:
    """One run of `method` ("sft", "dpo" or "kto"); `data` may be an export's folder."""
    if method not in _TRAINERS:
        raise ValueError(f"Unknown method {method!r}; one of {', '.join(METHODS)}.")
    return _TRAINERS[method](resolve_data_file(data, method), base_model_dir, output,
                             hparams, base_model_name=base_model_name,
                             adapter_dir=adapter_dir, fresh=fresh, save_steps=save_steps,
                             progress=progress)
