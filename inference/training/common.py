"""What every training method shares: hyperparameters, the run directory, the starting
point (a base model, or a base model and the adapter to continue), the Trainer settings,
the record and the model card. Each method (`sft`, `preference`) adds its dataset and
its TRL trainer and hands them to `run_training`.

A run lives in one output directory:

    checkpoints/checkpoint-N/   Trainer checkpoints; a re-run resumes from the latest
    adapter/                    the finished LoRA adapter and its model card
    training_record.json        data hash, hyperparameters, metrics, device, versions

A finished run with the same method, data, starting point and hyperparameters is not
trained again.

Starting from a version that carries an adapter (the shipped SFT adapter, or a version
trained here), training continues that adapter: the base model is loaded with the
adapter as a trainable peft model. The result is again one LoRA adapter over the same
base, which is what a `ModelVersion` holds and what `inference.loading` serves, and the
adapter's own rank, targets and layers are kept. (Merging it and adding a second LoRA
would need the merged 0.5 GB model saved, or two adapters served, for every version.)
For DPO and KTO, TRL copies the starting adapter into a frozen "ref" adapter, so the
reference policy is the version trained from, not the bare base model.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inference.sft_data import DataError, data_hash

RECORD_FILE = "training_record.json"
ADAPTER_DIR = "adapter"
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
METHODS = ("sft", "dpo", "kto")

# (optimiser steps done, steps in all)
StepProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class Hyperparameters:
    """Supervised fine-tuning; the preference methods add their own below."""

    epochs: float = 3.0
    learning_rate: float = 2e-4
    batch_size: int = 8
    gradient_accumulation: int = 1
    # The LoRA settings apply to a new adapter. Continuing an adapter keeps its own.
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    # Adapt only the top N decoder layers (0: all). Backpropagation then stops there,
    # which makes a CPU step much cheaper.
    lora_top_layers: int = 0
    max_length: int = 1024
    warmup_ratio: float = 0.05
    max_steps: int = -1
    seed: int = 42

    def check(self) -> None:
        if self.epochs <= 0 and self.max_steps <= 0:
            raise DataError("Give a positive number of epochs or steps.")
        if not 0 < self.learning_rate < 1:
            raise DataError("The learning rate must be between 0 and 1.")
        for name in ("batch_size", "gradient_accumulation", "lora_r", "lora_alpha",
                     "max_length"):
            if getattr(self, name) < 1:
                raise DataError(f"{name} must be at least 1.")
        if self.lora_top_layers < 0:
            raise DataError("lora_top_layers must be 0 (all) or more.")


@dataclass(frozen=True)
class DPOHyperparameters(Hyperparameters):
    """Direct preference optimisation over a LoRA adapter. One pass at a lower learning
    rate than SFT: the policy starts from a model that already writes replies, and beta
    (TRL's default) keeps it near that reference."""

    epochs: float = 1.0
    learning_rate: float = 5e-5
    batch_size: int = 4
    gradient_accumulation: int = 2
    beta: float = 0.1

    def check(self) -> None:
        super().check()
        if not 0 < self.beta <= 10:
            raise DataError("beta must be above 0 and at most 10.")


@dataclass(frozen=True)
class KTOHyperparameters(DPOHyperparameters):
    """Kahneman-Tversky optimisation: desirable and undesirable replies, unpaired."""

    desirable_weight: float = 1.0
    undesirable_weight: float = 1.0

    def check(self) -> None:
        super().check()
        if self.batch_size < 2:
            # TRL estimates KTO's KL term from mismatched pairs within a batch.
            raise DataError("KTO needs a batch size of at least 2.")
        if self.desirable_weight <= 0 or self.undesirable_weight <= 0:
            raise DataError("desirable_weight and undesirable_weight must be above 0.")


HYPERPARAMETERS: dict[str, type[Hyperparameters]] = {
    "sft": Hyperparameters, "dpo": DPOHyperparameters, "kto": KTOHyperparameters}


def hyperparameter_names() -> dict[str, type]:
    """Every hyperparameter of any method, with its type (for command-line options)."""
    names: dict[str, type] = {}
    for cls in HYPERPARAMETERS.values():
        for name, value in asdict(cls()).items():
            names.setdefault(name, type(value))
    return names


def make_hyperparameters(method: str, values: dict[str, Any]) -> Hyperparameters:
    """The method's hyperparameters: its defaults, with the values given (None: default).
    A value the method does not take is an error, not silently dropped."""
    cls = HYPERPARAMETERS[method]
    known = set(asdict(cls()))
    given = {k: v for k, v in values.items() if v is not None}
    foreign = sorted(set(given) - known)
    if foreign:
        raise DataError(f"{method} does not take {', '.join(foreign)}.")
    return cls(**given)


@dataclass
class TrainingResult:
    output_dir: Path
    adapter_dir: Path
    record: dict[str, Any] = field(default_factory=dict)
    trained: bool = True


@dataclass(frozen=True)
class Start:
    """Where training starts: a base model directory, and the adapter to continue."""

    model_dir: Path
    name: str
    adapter_dir: Path | None = None

    def check(self) -> None:
        if not (self.model_dir / "config.json").exists():
            raise DataError(f"{self.model_dir} is not a model directory.")
        if self.adapter_dir is not None and not (
                self.adapter_dir / "adapter_config.json").exists():
            raise DataError(f"{self.adapter_dir} is not a LoRA adapter directory.")


def device_name() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_data_file(path: Path, method: str) -> Path:
    """The training file: `path` itself, or in an export's folder `<method>/train.jsonl`
    (or `train.jsonl` in a format's own folder)."""
    if path.is_file():
        return path
    if path.is_dir():
        for candidate in (path / method / "train.jsonl", path / "train.jsonl"):
            if candidate.is_file():
                return candidate
        raise DataError(f"{path} is a folder without {method}/train.jsonl: give an "
                        "export's folder or a JSONL file.")
    raise DataError(f"{path} is not a file or an export folder.")


def _versions() -> dict[str, str]:
    import peft
    import torch
    import transformers
    import trl

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__,
            "trl": trl.__version__}


def adapter_sha256(adapter_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        path = adapter_dir / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _finished_record(output: Path, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    path = output / RECORD_FILE
    if not path.exists() or not (output / ADAPTER_DIR / "adapter_config.json").exists():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    same = all(record.get(key) == value for key, value in fingerprint.items())
    return record if same else None


def load_policy(start: Start, hparams: Hyperparameters) -> tuple[Any, Any, Any]:
    """(tokenizer, model, peft_config): the model to train. With an adapter to continue,
    the model is a trainable PeftModel and peft_config is None; otherwise the trainer
    adds a new LoRA adapter from peft_config."""
    import torch
    from peft import LoraConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(start.model_dir, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(start.model_dir, local_files_only=True,
                                                 dtype=torch.float32)
    if start.adapter_dir is not None:
        # Weights saved in float16 are cast up to float32 for training.
        model = PeftModel.from_pretrained(model, str(start.adapter_dir), is_trainable=True,
                                          local_files_only=True)
        return tokenizer, model, None
    layers = model.config.num_hidden_layers
    top = min(hparams.lora_top_layers, layers) or layers
    peft_config = LoraConfig(r=hparams.lora_r, lora_alpha=hparams.lora_alpha,
                             lora_dropout=hparams.lora_dropout, target_modules=LORA_TARGETS,
                             layers_to_transform=list(range(layers - top, layers)),
                             task_type="CAUSAL_LM")
    return tokenizer, model, peft_config


def trainer_arguments(hparams: Hyperparameters, device: str, checkpoints: Path,
                      save_steps: int) -> dict[str, Any]:
    """The TrainingArguments every method shares (TRL's configs take them all)."""
    return {
        "output_dir": str(checkpoints),
        "num_train_epochs": hparams.epochs,
        "max_steps": hparams.max_steps,
        "learning_rate": hparams.learning_rate,
        "per_device_train_batch_size": hparams.batch_size,
        "gradient_accumulation_steps": hparams.gradient_accumulation,
        "warmup_steps": hparams.warmup_ratio,  # below 1: a share of all steps
        "lr_scheduler_type": "cosine",
        "max_length": hparams.max_length,
        "seed": hparams.seed,
        "data_seed": hparams.seed,
        "logging_steps": 5,
        "logging_first_step": True,
        "save_strategy": "steps",
        "save_steps": save_steps,
        "save_total_limit": 2,
        "report_to": "none",
        "gradient_checkpointing": False,
        "use_cpu": device == "cpu",
        "bf16": device == "cuda",
        "disable_tqdm": False,
    }


def _progress_callback(progress: StepProgress) -> Any:
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            progress(state.global_step, state.max_steps)

    return Progress()


# Figures the preference trainers log, kept in the record from the last logged step.
_LOGGED = ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
           "kl", "logps/chosen", "logps/rejected")


def run_training(
    method: str,
    data: Path,
    examples: int,
    start: Start,
    output: Path,
    hparams: Hyperparameters,
    build_trainer: Callable[[Any, Any, Any, dict[str, Any]], Any],
    *,
    fresh: bool = False,
    save_steps: int = 20,
    progress: StepProgress | None = None,
    describe: dict[str, Any] | None = None,
) -> TrainingResult:
    """Trains (or resumes, or finds finished) one run. `build_trainer(model, tokenizer,
    peft_config, arguments)` makes the method's TRL trainer; `describe` adds the method's
    own facts to the record (e.g. how many pairs)."""
    fingerprint: dict[str, Any] = {
        "method": method, "data_sha256": data_hash(data),
        "hyperparameters": asdict(hparams), "base_model": start.name}
    if start.adapter_dir is not None:
        fingerprint["start_adapter_sha256"] = adapter_sha256(start.adapter_dir)
    if fresh:
        shutil.rmtree(output, ignore_errors=True)
    done = _finished_record(output, fingerprint)
    if done is not None:
        return TrainingResult(output, output / ADAPTER_DIR, done, trained=False)

    device = device_name()
    tokenizer, model, peft_config = load_policy(start, hparams)
    checkpoints = output / "checkpoints"
    trainer = build_trainer(model, tokenizer, peft_config,
                            trainer_arguments(hparams, device, checkpoints, save_steps))
    if progress is not None:
        trainer.add_callback(_progress_callback(progress))
    resume = any(checkpoints.glob("checkpoint-*"))
    started = time.perf_counter()
    outcome = trainer.train(resume_from_checkpoint=True if resume else None)
    adapter_dir = output / ADAPTER_DIR
    # Only the trained adapter: DPO and KTO keep a frozen "ref" copy beside it.
    trainer.model.save_pretrained(adapter_dir, selected_adapters=["default"])
    _halve_adapter(adapter_dir)
    lora = trainer.model.peft_config["default"]
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    losses = [entry["loss"] for entry in logged]
    record = {
        **fingerprint,
        "data_file": data.name,
        "data_path": str(data),
        "examples": examples,
        "device": device,
        "resumed": resume,
        "start": ({"adapter": str(start.adapter_dir), "continued": True}
                  if start.adapter_dir is not None else {"adapter": None, "continued": False}),
        "lora": {"r": lora.r, "alpha": lora.lora_alpha, "dropout": lora.lora_dropout,
                 "target_modules": ([lora.target_modules] if isinstance(lora.target_modules, str)
                                    else sorted(lora.target_modules)),
                 "layers": list(lora.layers_to_transform or [])},
        **(describe or {}),
        "metrics": {
            "train_loss": round(float(outcome.training_loss), 4),
            "first_logged_loss": losses[0] if losses else None,
            "last_logged_loss": losses[-1] if losses else None,
            "steps": trainer.state.global_step,
            "runtime_s": round(time.perf_counter() - started, 1),
            **{name: round(float(logged[-1][name]), 4) for name in _LOGGED
               if logged and name in logged[-1]},
        },
        "versions": _versions(),
    }
    (output / RECORD_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    write_model_card(adapter_dir, record)
    return TrainingResult(output, adapter_dir, record)


def _halve_adapter(adapter_dir: Path) -> None:
    # float16 halves the committed adapter; it is merged into float32 weights at load.
    import torch
    from safetensors.torch import load_file, save_file

    path = adapter_dir / "adapter_model.safetensors"
    tensors = {k: v.to(torch.float16) for k, v in load_file(str(path)).items()}
    save_file(tensors, str(path), metadata={"format": "pt"})


_METHOD_LINES = {
    "sft": "supervised fine-tuning (TRL SFTTrainer, loss on the reply only)",
    "dpo": "direct preference optimisation (TRL DPOTrainer, beta={beta}) on pairs of an "
           "approved reply (chosen) and a draft the counsellor changed materially "
           "(rejected)",
    "kto": "Kahneman-Tversky optimisation (TRL KTOTrainer, beta={beta}, desirable weight "
           "{desirable_weight}, undesirable weight {undesirable_weight}) on approved "
           "replies (desirable) and drafts changed materially or rated poorly "
           "(undesirable)",
}


def write_model_card(adapter_dir: Path, record: dict[str, Any],
                     evaluation: dict[str, Any] | None = None) -> None:
    h = record["hyperparameters"]
    method = record.get("method", "sft")
    lora = record.get("lora") or {"r": h["lora_r"], "alpha": h["lora_alpha"],
                                  "dropout": h["lora_dropout"],
                                  "target_modules": LORA_TARGETS, "layers": []}
    start = record.get("start") or {}
    layers = lora.get("layers") or []
    where = (f", in decoder layers {layers[0]}-{layers[-1]}." if layers
             else ", in every decoder layer.")
    lines = [
        f"# LoRA adapter over {record['base_model']}",
        "",
        "Drafts replies for a professional counsellor to review in the Psy-LLM assistive "
        "console. It is never sent to a client without a named professional's approval.",
        "",
        "## Training",
        f"- Method: {_METHOD_LINES.get(method, method).format(**h)} of a peft LoRA adapter "
        f"(r={lora['r']}, alpha={lora['alpha']}, dropout={lora['dropout']}) on "
        f"{', '.join(lora['target_modules'])}" + where,
    ]
    if start.get("continued"):
        lines.append(f"- Continued from the adapter of {record['base_model']} "
                     f"(`{Path(start['adapter']).name}`), which is also the reference policy"
                     if method != "sft" else
                     f"- Continued from the adapter of {record['base_model']} "
                     f"(`{Path(start['adapter']).name}`).")
    lines += [
        f"- Data: `{record['data_file']}`, {record['examples']} examples, "
        f"sha256 `{record['data_sha256'][:16]}…`: client questions, passages retrieved "
        "from the project's corpus, and replies written or approved by professionals.",
        f"- Epochs {h['epochs']}, learning rate {h['learning_rate']} (cosine, warm-up "
        f"{h['warmup_ratio']}), batch {h['batch_size']} x {h['gradient_accumulation']}, "
        f"max length {h['max_length']}, seed {h['seed']}, on {record['device']}.",
        f"- Training loss {record['metrics']['train_loss']} over "
        f"{record['metrics']['steps']} steps.",
    ]
    if evaluation:
        lines += ["", "## Evaluation (held-out set)", ""]
        lines += [f"- {name}: {value}" for name, value in evaluation.items()]
    lines += [
        "",
        "## Limitations",
        "- A 135M-parameter model: drafts are short and can be generic, wrong or off-topic. "
        "A professional must read every draft against its sources.",
        "- Trained on a few hundred English examples; other languages and rare situations "
        "are weak.",
        "- It does not assess risk: intake screening and the guardrails do that, and "
        "crisis resources are added to risky drafts whatever the model writes.",
    ]
    (adapter_dir / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
