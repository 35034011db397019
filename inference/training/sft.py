"""Supervised fine-tuning with TRL's SFTTrainer on the conversational SFT records
(`inference.sft_data`), the loss on the reply only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inference.sft_data import load_records
from inference.training.common import (
    Hyperparameters,
    Start,
    StepProgress,
    TrainingResult,
    run_training,
)


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


def train_sft(data: Path, base_model_dir: Path, output: Path, hparams: Hyperparameters,
              *, base_model_name: str = "", adapter_dir: Path | None = None,
              fresh: bool = False, save_steps: int = 20,
              progress: StepProgress | None = None) -> TrainingResult:
    """Trains (or resumes training) a LoRA adapter on `data` over the base model, or
    continues `adapter_dir` when given."""
    hparams.check()
    records = load_records(data)
    start = Start(base_model_dir, base_model_name or base_model_dir.name, adapter_dir)
    start.check()

    def build(model: Any, tokenizer: Any, peft_config: Any, arguments: dict[str, Any]) -> Any:
        from datasets import Dataset
        from trl import SFTConfig

        dataset = Dataset.from_list([to_prompt_completion(r) for r in records])
        return _trainer_class()(model=model, args=SFTConfig(**arguments),
                                train_dataset=dataset, processing_class=tokenizer,
                                peft_config=peft_config)

    return run_training("sft", data, len(records), start, output, hparams, build,
                        fresh=fresh, save_steps=save_steps, progress=progress)
