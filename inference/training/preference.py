"""Preference tuning with TRL's DPOTrainer and KTOTrainer on the export's DPO and KTO
files (`inference.preference_data`), over a LoRA adapter: by default the adapter of the
version trained from is continued, and its frozen copy is the reference policy (see
`inference.training.common`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inference.preference_data import load_records
from inference.training.common import (
    DPOHyperparameters,
    KTOHyperparameters,
    Start,
    StepProgress,
    TrainingResult,
    run_training,
)


def train_dpo(data: Path, base_model_dir: Path, output: Path, hparams: DPOHyperparameters,
              *, base_model_name: str = "", adapter_dir: Path | None = None,
              fresh: bool = False, save_steps: int = 20,
              progress: StepProgress | None = None) -> TrainingResult:
    """DPO on `data` (prompt / chosen / rejected), continuing `adapter_dir` if given."""
    if not isinstance(hparams, DPOHyperparameters) or isinstance(hparams, KTOHyperparameters):
        raise TypeError("train_dpo takes DPOHyperparameters.")
    hparams.check()
    records = load_records(data, "dpo")
    start = Start(base_model_dir, base_model_name or base_model_dir.name, adapter_dir)
    start.check()

    def build(model: Any, tokenizer: Any, peft_config: Any, arguments: dict[str, Any]) -> Any:
        from datasets import Dataset
        from trl import DPOConfig, DPOTrainer

        config = DPOConfig(**arguments, beta=hparams.beta)
        return DPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(records),
                          processing_class=tokenizer, peft_config=peft_config)

    return run_training("dpo", data, len(records), start, output, hparams, build,
                        fresh=fresh, save_steps=save_steps, progress=progress,
                        describe={"pairs": len(records)})


def train_kto(data: Path, base_model_dir: Path, output: Path, hparams: KTOHyperparameters,
              *, base_model_name: str = "", adapter_dir: Path | None = None,
              fresh: bool = False, save_steps: int = 20,
              progress: StepProgress | None = None) -> TrainingResult:
    """KTO on `data` (prompt / completion / label), continuing `adapter_dir` if given."""
    if not isinstance(hparams, KTOHyperparameters):
        raise TypeError("train_kto takes KTOHyperparameters.")
    hparams.check()
    records = load_records(data, "kto")
    start = Start(base_model_dir, base_model_name or base_model_dir.name, adapter_dir)
    start.check()
    desirable = sum(r["label"] for r in records)

    def build(model: Any, tokenizer: Any, peft_config: Any, arguments: dict[str, Any]) -> Any:
        from datasets import Dataset
        from trl import KTOConfig, KTOTrainer

        config = KTOConfig(**arguments, beta=hparams.beta,
                           desirable_weight=hparams.desirable_weight,
                           undesirable_weight=hparams.undesirable_weight)
        return KTOTrainer(model=model, args=config, train_dataset=Dataset.from_list(records),
                          processing_class=tokenizer, peft_config=peft_config)

    return run_training("kto", data, len(records), start, output, hparams, build,
                        fresh=fresh, save_steps=save_steps, progress=progress,
                        describe={"desirable": desirable,
                                  "undesirable": len(records) - desirable})
