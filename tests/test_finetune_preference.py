"""`manage.py finetune --method dpo|kto`: TRL's DPO and KTO trainers over a LoRA adapter
on the tiny model, through the real command. Training continues the starting version's
adapter (its frozen copy is the reference) or adds a new one; it registers an unpromoted
version, resumes from checkpoints and rejects bad files before loading a model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from inference.loading import get_model
from inference.models import ModelVersion
from inference.sft_data import data_hash
from inference.versions import resolve_version

SYSTEM = {"role": "system", "content": "Draft a short, kind reply for a counsellor."}
QUESTIONS = ["I can't sleep before exams.", "My flatmate and I keep arguing.",
             "I feel lonely since I moved.", "Work stress is wearing me down."]
GOOD = "That sounds hard. A steady wind-down before bed can help [1]."
BAD = "Just take something to knock yourself out."


def _prompt(question: str) -> list[dict[str, str]]:
    return [SYSTEM, {"role": "user", "content": question}]


def _reply(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def dpo_file(tmp_path: Path) -> Path:
    return _write(tmp_path / "dpo.jsonl", [
        {"prompt": _prompt(q), "chosen": _reply(GOOD), "rejected": _reply(BAD)}
        for q in QUESTIONS])


@pytest.fixture
def kto_export(tmp_path: Path) -> Path:
    """An export's folder, as `manage.py export` lays it out."""
    folder = tmp_path / "export-00042"
    rows = []
    for q in QUESTIONS[:2]:
        rows += [{"prompt": _prompt(q), "completion": _reply(GOOD), "label": True},
                 {"prompt": _prompt(q), "completion": _reply(BAD), "label": False}]
    _write(folder / "kto" / "train.jsonl", rows)
    _write(folder / "dpo" / "train.jsonl", [])
    return folder


@pytest.fixture(scope="session")
def start_adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small LoRA adapter over the tiny model, not zero (as a trained one is not)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj",
                                                                              "v_proj"],
                                            init_lora_weights=False, task_type="CAUSAL_LM"))
    target = tmp_path_factory.mktemp("adapters") / "tiny-sft-adapter"
    peft.save_pretrained(target)
    return target


@pytest.fixture
def tiny_sft(tiny_model: Path, start_adapter: Path) -> str:
    ModelVersion.objects.create(name="tiny-sft", base_model="tiny-base", path=str(tiny_model),
                                adapter_path=str(start_adapter))
    return "tiny-sft"


def _finetune(method: str, data: Path, output: Path, *extra: str) -> str:
    out = io.StringIO()
    call_command("finetune", "--method", method, "--data", str(data), "--output",
                 str(output), "--batch-size", "2", "--gradient-accumulation", "1",
                 "--max-length", "256", *extra, stdout=out)
    return out.getvalue()


def _weights(adapter: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(adapter / "adapter_model.safetensors"))


def test_dpo_continues_the_versions_adapter_and_registers_it(tiny_sft, start_adapter,
                                                             dpo_file, tmp_path):
    output = tmp_path / "run"
    said = _finetune("dpo", dpo_file, output, "--base", tiny_sft, "--name", "tiny-dpo",
                     "--max-steps", "2", "--beta", "0.2")
    assert "Trained tiny-dpo (DPO, continuing tiny-sft's adapter)" in said
    assert "Not promoted" in said

    version = ModelVersion.objects.get(name="tiny-dpo")
    assert not version.is_default and version.base_model == "tiny-sft"
    record = version.metadata["training"]
    assert record["method"] == "dpo" and record["pairs"] == 4
    assert record["data_sha256"] == data_hash(dpo_file)
    assert record["hyperparameters"]["beta"] == 0.2
    assert record["hyperparameters"]["max_steps"] == 2
    assert record["start"] == {"adapter": str(start_adapter), "continued": True}
    assert record["lora"]["r"] == 4  # the starting adapter's own shape is kept
    assert record["metrics"]["steps"] == 2 and record["device"] == "cpu"
    assert "rewards/margins" in record["metrics"] and "trl" in record["versions"]

    adapter = Path(version.adapter_path)
    assert not (adapter / "ref").exists()  # the frozen reference copy is not saved
    before, after = _weights(start_adapter), _weights(adapter)
    assert before.keys() == after.keys()
    assert any(not (before[k].half() == after[k]).all() for k in before)
    assert "direct preference optimisation" in (adapter / "README.md").read_text()
    assert get_model(resolve_version("tiny-dpo").spec).name == "tiny-dpo"


def test_kto_starts_from_the_active_version_and_reads_an_export_folder(
        tiny_model, start_adapter, kto_export, tmp_path, settings):
    settings.LLM_ADAPTER_PATH = str(start_adapter)  # the shipped adapter, in miniature
    active = f"tiny-smollm2+{start_adapter.name}"
    said = _finetune("kto", kto_export, tmp_path / "run", "--max-steps", "1")
    name = f"{active}+kto-export-00042"
    assert f"Trained {name} (KTO, continuing {active}'s adapter)" in said

    version = ModelVersion.objects.get(name=name)
    record = version.metadata["training"]
    assert version.base_model == active and not version.is_default
    assert record["method"] == "kto" and record["data_file"] == "train.jsonl"
    assert (record["desirable"], record["undesirable"]) == (2, 2)
    assert {"beta", "desirable_weight", "undesirable_weight"} <= set(record["hyperparameters"])
    assert record["start"]["continued"] is True


def test_a_dpo_rerun_resumes_and_a_finished_one_is_not_trained_again(tiny_sft, dpo_file,
                                                                     tmp_path):
    output = tmp_path / "run"
    args = ("--base", tiny_sft, "--name", "tiny-dpo", "--save-steps", "1")
    _finetune("dpo", dpo_file, output, *args, "--max-steps", "1")
    (output / "training_record.json").unlink()  # interrupted: checkpoints, no record
    _finetune("dpo", dpo_file, output, *args, "--max-steps", "2")
    record = json.loads((output / "training_record.json").read_text())
    assert record["resumed"] is True and record["metrics"]["steps"] == 2
    assert (output / "checkpoints" / "checkpoint-2").exists()

    said = _finetune("dpo", dpo_file, output, *args, "--max-steps", "2")
    assert "Already trained" in said


PROMPT = json.dumps(_prompt("Hi"))
REPLY = json.dumps(_reply("Hello."))


@pytest.mark.parametrize(("method", "content", "message"), [
    ("dpo", b"", "holds no records"),
    ("dpo", b"\xff\xfe not utf-8", "not UTF-8"),
    ("dpo", b"{not json", "not JSON"),
    ("dpo", b'["a list"]', "expected a JSON object"),
    ("dpo", f'{{"messages": {PROMPT}}}'.encode(), "looks like an SFT file"),
    ("dpo", f'{{"prompt": {PROMPT}, "completion": {REPLY}, "label": true}}'.encode(),
     "missing 'chosen', 'rejected' for DPO"),
    ("dpo", f'{{"prompt": "Hi", "chosen": {REPLY}, "rejected": {REPLY}}}'.encode(),
     "'prompt' must be a non-empty list"),
    ("dpo", f'{{"prompt": {PROMPT}, "chosen": {REPLY}, "rejected": {REPLY}}}'.encode(),
     "the same reply"),
    ("dpo", f'{{"prompt": {PROMPT}, "chosen": {REPLY}, "rejected": '
            f'[{{"role": "assistant", "content": " "}}]}}'.encode(), "non-empty assistant"),
    ("dpo", f'{{"prompt": {REPLY}, "chosen": {REPLY}, "rejected": {REPLY}}}'.encode(),
     "must end with the client's"),
    ("kto", f'{{"prompt": {PROMPT}, "chosen": {REPLY}, "rejected": {REPLY}}}'.encode(),
     "looks like a DPO file"),
    ("kto", f'{{"prompt": {PROMPT}, "completion": {REPLY}, "label": 1}}'.encode(),
     "'label' must be true or false"),
    ("kto", f'{{"prompt": {PROMPT}, "completion": {PROMPT}, "label": true}}'.encode(),
     "assistant turns only"),
])
def test_it_rejects_bad_preference_files(tiny_sft, tmp_path, method, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        _finetune(method, path, tmp_path / "run", "--base", tiny_sft, "--name", "x")
    assert not ModelVersion.objects.filter(name="x").exists()
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("method", "extra", "message"), [
    ("kto", ["--batch-size", "1"], "batch size of at least 2"),
    ("dpo", ["--beta", "0"], "beta must be above 0"),
    ("sft", ["--beta", "0.1"], "sft does not take beta"),
    ("dpo", ["--desirable-weight", "2"], "dpo does not take desirable_weight"),
])
def test_it_rejects_nonsense_hyperparameters(tiny_sft, dpo_file, tmp_path, method, extra,
                                             message):
    with pytest.raises(CommandError, match=message):
        _finetune(method, dpo_file, tmp_path / "run", "--base", tiny_sft, *extra)


def test_it_rejects_a_folder_without_the_methods_file(tiny_sft, kto_export, tmp_path):
    (kto_export / "dpo" / "train.jsonl").unlink()
    with pytest.raises(CommandError, match=r"without dpo/train\.jsonl"):
        _finetune("dpo", kto_export, tmp_path / "run", "--base", tiny_sft)
    with pytest.raises(CommandError, match="must differ"):
        _finetune("kto", kto_export, tmp_path / "run", "--base", tiny_sft, "--name",
                  tiny_sft)
