"""Supervised fine-tuning of a LoRA adapter with TRL, on whatever device is present.

This module needs no Django, so the same code runs from `manage.py finetune` and, on a
machine with only the ML stack (a GPU box), as `python -m inference.training`. A run
lives in one output directory:

    checkpoints/checkpoint-N/   Trainer checkpoints; a re-run resumes from the latest
    adapter/                    the finished LoRA adapter and its model card
    training_record.json        data hash, hyperparameters, metrics, device, versions

A finished run with the same data and hyperparameters is not trained again.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inference.sft_data import DataError, data_hash, load_records

RECORD_FILE = "training_record.json"
ADAPTER_DIR = "adapter"
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass(frozen=True)
class Hyperparameters:
    epochs: float = 3.0
    learning_rate: float = 2e-4
    batch_size: int = 8
    gradient_accumulation: int = 1
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


@dataclass
class TrainingResult:
    output_dir: Path
    adapter_dir: Path
    record: dict[str, Any] = field(default_factory=dict)
    trained: bool = True


def device_name() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def to_prompt_completion(record: dict[str, Any]) -> dict[str, Any]:
    # TRL's conversational prompt-completion form: the loss falls on the reply only,
    # not on the system prompt, passages and question.
    return {"prompt": record["messages"][:-1], "completion": record["messages"][-1:]}


def _trainer_class() -> type:
    from transformers import Trainer
    from trl import SFTTrainer

    class PlainLossSFTTrainer(SFTTrainer):
        """SFTTrainer with the model's own loss. TRL's fused head also computes entropy and
        accuracy over the whole vocabulary for every token, which doubles a CPU step."""

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            model_inputs = {k: v for k, v in inputs.items()
                            if k in ("input_ids", "attention_mask", "position_ids", "labels")}
            return Trainer.compute_loss(self, model, model_inputs, return_outputs,
                                        num_items_in_batch)

    return PlainLossSFTTrainer


def _versions() -> dict[str, str]:
    import peft
    import torch
    import transformers
    import trl

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__,
            "trl": trl.__version__}


def _finished_record(output: Path, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    path = output / RECORD_FILE
    if not path.exists() or not (output / ADAPTER_DIR / "adapter_config.json").exists():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    same = all(record.get(key) == value for key, value in fingerprint.items())
    return record if same else None


def train_sft(data: Path, base_model_dir: Path, output: Path, hparams: Hyperparameters,
              *, base_model_name: str = "", fresh: bool = False,
              save_steps: int = 20) -> TrainingResult:
    """Trains (or resumes training) a LoRA adapter on `data` over the base model."""
    hparams.check()
    records = load_records(data)
    if not (base_model_dir / "config.json").exists():
        raise DataError(f"{base_model_dir} is not a model directory.")
    fingerprint = {"data_sha256": data_hash(data), "hyperparameters": asdict(hparams),
                   "base_model": base_model_name or base_model_dir.name}
    if fresh:
        shutil.rmtree(output, ignore_errors=True)
    done = _finished_record(output, fingerprint)
    if done is not None:
        return TrainingResult(output, output / ADAPTER_DIR, done, trained=False)

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig

    device = device_name()
    tokenizer = AutoTokenizer.from_pretrained(base_model_dir, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_model_dir, local_files_only=True,
                                                 dtype=torch.float32)
    dataset = Dataset.from_list([to_prompt_completion(r) for r in records])
    checkpoints = output / "checkpoints"
    config = SFTConfig(
        output_dir=str(checkpoints),
        num_train_epochs=hparams.epochs,
        max_steps=hparams.max_steps,
        learning_rate=hparams.learning_rate,
        per_device_train_batch_size=hparams.batch_size,
        gradient_accumulation_steps=hparams.gradient_accumulation,
        warmup_steps=hparams.warmup_ratio,  # below 1: a share of all steps
        lr_scheduler_type="cosine",
        max_length=hparams.max_length,
        seed=hparams.seed,
        data_seed=hparams.seed,
        logging_steps=5,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=2,
        report_to="none",
        gradient_checkpointing=False,
        use_cpu=device == "cpu",
        bf16=device == "cuda",
        disable_tqdm=False,
    )
    layers = model.config.num_hidden_layers
    top = min(hparams.lora_top_layers, layers) or layers
    peft_config = LoraConfig(r=hparams.lora_r, lora_alpha=hparams.lora_alpha,
                             lora_dropout=hparams.lora_dropout, target_modules=LORA_TARGETS,
                             layers_to_transform=list(range(layers - top, layers)),
                             task_type="CAUSAL_LM")
    trainer = _trainer_class()(model=model, args=config, train_dataset=dataset,
                         processing_class=tokenizer, peft_config=peft_config)
    resume = any(checkpoints.glob("checkpoint-*"))
    started = time.perf_counter()
    outcome = trainer.train(resume_from_checkpoint=True if resume else None)
    adapter_dir = output / ADAPTER_DIR
    trainer.model.save_pretrained(adapter_dir)
    _halve_adapter(adapter_dir)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    record = {
        **fingerprint,
        "method": "sft",
        "data_file": data.name,
        "examples": len(records),
        "device": device,
        "resumed": resume,
        "metrics": {
            "train_loss": round(float(outcome.training_loss), 4),
            "first_logged_loss": losses[0] if losses else None,
            "last_logged_loss": losses[-1] if losses else None,
            "steps": trainer.state.global_step,
            "runtime_s": round(time.perf_counter() - started, 1),
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


def write_model_card(adapter_dir: Path, record: dict[str, Any],
                     evaluation: dict[str, Any] | None = None) -> None:
    h = record["hyperparameters"]
    lines = [
        f"# LoRA adapter over {record['base_model']}",
        "",
        "Drafts replies for a professional counsellor to review in the Psy-LLM assistive "
        "console. It is never sent to a client without a named professional's approval.",
        "",
        "## Training",
        f"- Method: supervised fine-tuning (TRL SFTTrainer, loss on the reply only) of a "
        f"peft LoRA adapter (r={h['lora_r']}, alpha={h['lora_alpha']}, "
        f"dropout={h['lora_dropout']}) on {', '.join(LORA_TARGETS)}"
        + (f", in the top {h['lora_top_layers']} decoder layers."
           if h.get("lora_top_layers") else ", in every decoder layer."),
        f"- Data: `{record['data_file']}`, {record['examples']} examples, "
        f"sha256 `{record['data_sha256'][:16]}…`: client questions, passages retrieved "
        "from the project's corpus, and replies written for the project.",
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
        "- Trained on a few hundred English examples written for the project; other "
        "languages and rare situations are weak.",
        "- It does not assess risk: intake screening and the guardrails do that, and "
        "crisis resources are added to risky drafts whatever the model writes.",
    ]
    (adapter_dir / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fine-tune a LoRA adapter (no Django).")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--base-model-dir", type=Path, required=True)
    parser.add_argument("--base-model-name", default="")
    parser.add_argument("--output", type=Path, required=True)
    for name, value in asdict(Hyperparameters()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    hparams = Hyperparameters(**{name: getattr(args, name)
                                 for name in asdict(Hyperparameters())})
    result = train_sft(args.data, args.base_model_dir, args.output, hparams,
                       base_model_name=args.base_model_name)
    print(json.dumps(result.record["metrics"], indent=2))


if __name__ == "__main__":
    main()
