"""`manage.py finetune`: TRL + LoRA on a tiny model with the real tokenizer, through the
real command; the adapter must load, draft and be registered, and a run must resume."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from inference.drafting import compose_draft
from inference.generation import generate
from inference.loading import get_model
from inference.models import ModelVersion
from inference.sft_data import data_hash
from inference.versions import resolve_version

ROOT = Path(__file__).resolve().parent.parent
SEED_SET = ROOT / "fixtures" / "training" / "sft_train.jsonl"


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    path = tmp_path / "small.jsonl"
    path.write_text("".join(SEED_SET.read_text(encoding="utf-8").splitlines(True)[:4]),
                    encoding="utf-8")
    return path


@pytest.fixture
def tiny_base(tiny_model: Path) -> str:
    ModelVersion.objects.create(name="tiny-base", base_model="tiny", path=str(tiny_model))
    return "tiny-base"


def _finetune(data: Path, output: Path, *extra: str) -> str:
    out = io.StringIO()
    call_command("finetune", "--data", str(data), "--base", "tiny-base", "--name",
                 "tiny-sft", "--output", str(output), "--batch-size", "2",
                 "--max-length", "768", *extra, stdout=out)
    return out.getvalue()


def test_it_trains_registers_and_drafts_with_the_adapter(tiny_base, small_set, tmp_path,
                                                         settings, corpus_index):
    output = tmp_path / "run"
    said = _finetune(small_set, output, "--max-steps", "2")
    assert "Trained tiny-sft" in said and "Not promoted" in said

    version = ModelVersion.objects.get(name="tiny-sft")
    assert not version.is_default
    assert Path(version.adapter_path, "adapter_config.json").exists()
    record = version.metadata["training"]
    assert record["data_sha256"] == data_hash(small_set)
    assert record["hyperparameters"]["max_steps"] == 2
    assert record["hyperparameters"]["seed"] == 42
    assert record["metrics"]["steps"] == 2
    assert record["examples"] == 4
    assert (output / "adapter" / "README.md").read_text().startswith("# LoRA adapter")

    loaded = get_model(resolve_version("tiny-sft").spec)
    assert loaded.name == "tiny-sft"
    base = get_model(resolve_version("tiny-base").spec)
    import torch

    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.inference_mode():
        assert not torch.allclose(loaded.model(ids).logits, base.model(ids).logits)
    assert generate(loaded, [{"role": "user", "content": "Hi"}], max_new_tokens=4).text \
        is not None

    settings.LLM_MODEL_VERSION = "tiny-sft"
    draft = compose_draft("I can't sleep before exams.", risky=False)
    assert draft.model_name == "tiny-sft"


def test_a_rerun_resumes_from_the_last_checkpoint(tiny_base, small_set, tmp_path):
    output = tmp_path / "run"
    _finetune(small_set, output, "--max-steps", "2", "--save-steps", "1")
    # An interrupted run: checkpoints on disk, no finished adapter.
    (output / "training_record.json").unlink()
    _finetune(small_set, output, "--max-steps", "3", "--save-steps", "1")
    record = json.loads((output / "training_record.json").read_text())
    assert record["resumed"] is True
    assert record["metrics"]["steps"] == 3
    assert (output / "checkpoints" / "checkpoint-3").exists()


def test_a_finished_run_is_registered_without_training_again(tiny_base, small_set,
                                                              tmp_path):
    output = tmp_path / "run"
    _finetune(small_set, output, "--max-steps", "1")
    adapter = output / "adapter" / "adapter_model.safetensors"
    before = adapter.stat().st_mtime_ns
    said = _finetune(small_set, output, "--max-steps", "1")
    assert "Already trained" in said
    assert adapter.stat().st_mtime_ns == before


@pytest.mark.parametrize(("content", "message"), [
    (b"", "holds no records"),
    (b"\xff\xfe not utf-8", "not UTF-8"),
    (b"{not json", "not JSON"),
    (b'{"messages": "hello"}', "must be a list"),
    (b'["a list"]', "expected a JSON object"),
    (b'{"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "x"}]}',
     "last turn must be a non-empty assistant reply"),
    (b'{"messages": [{"role": "user", "content": "<script>alert(1)</script>"},'
     b' {"role": "assistant", "content": ""}]}', "non-empty assistant reply"),
])
def test_it_rejects_bad_training_files(tiny_base, tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        _finetune(path, tmp_path / "run", "--max-steps", "1")
    assert not ModelVersion.objects.filter(name="tiny-sft").exists()


def test_it_rejects_a_missing_file_and_an_unknown_base(tiny_base, small_set, tmp_path):
    with pytest.raises(CommandError, match="is not a file"):
        _finetune(tmp_path / "nope.jsonl", tmp_path / "run")
    with pytest.raises(CommandError, match="No model version"):
        call_command("finetune", "--data", str(small_set), "--base", "'; DROP TABLE x;--",
                     stdout=io.StringIO())


def test_it_rejects_nonsense_hyperparameters(tiny_base, small_set, tmp_path):
    with pytest.raises(CommandError, match="learning rate"):
        _finetune(small_set, tmp_path / "run", "--learning-rate", "5")
