"""A tiny, randomly initialised model with the packaged model's real tokenizer and
architecture, for fast tests and benchmarks of the real loading and generation code."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock

from inference.loading import PACKAGED_GGUF, packaged_gguf_dir

TINY_DIMENSIONS = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
}


def build_tiny_model(target: Path, *, seed: int = 0) -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=300):
        if (target / "config.json").exists():
            return target
        gguf_dir = packaged_gguf_dir()
        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=PACKAGED_GGUF)
        config = AutoConfig.from_pretrained(gguf_dir, gguf_file=PACKAGED_GGUF)
        for name, value in TINY_DIMENSIONS.items():
            setattr(config, name, value)
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        partial = target.with_name(target.name + ".partial")
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        partial.rename(target)
    return target
