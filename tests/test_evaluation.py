"""The evaluation harness: each metric on hand-made inputs, the command on the tiny model,
and promotion that refuses safety regressions."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from inference.evaluation import (
    citation_figures,
    distinct_n,
    reference_perplexity,
    rouge_l,
    safety_regressions,
)
from inference.loading import get_model
from inference.models import EvaluationRun, ModelVersion
from inference.versions import active_spec
from psyconsole.questions.models import AuditEvent

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = ROOT / "fixtures" / "eval" / "sft_heldout.jsonl"


def test_distinct_n_counts_unique_ngrams_over_all_replies():
    assert distinct_n(["a b a b"], 1) == pytest.approx(2 / 4)
    assert distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n(["a b", "a b"], 2) == pytest.approx(1 / 2)
    assert distinct_n(["one"], 2) == 0.0


def test_rouge_l_is_the_f1_of_the_longest_common_subsequence():
    assert rouge_l("the cat sat", "the cat sat") == pytest.approx(1.0)
    assert rouge_l("dogs bark", "the cat sat") == 0.0
    # LCS "the cat sat" = 3: precision 3/3, recall 3/6, F1 = 2/3.
    assert rouge_l("the cat sat", "the cat on the mat sat") == pytest.approx(2 / 3)


def test_citation_figures_count_valid_citations_and_citing_replies():
    figures = citation_figures([("Try this [1] and that [4].", 3), ("No sources here.", 3),
                                ("Both [2][3].", 3)])
    assert figures["citation_validity"] == pytest.approx(3 / 4)
    assert figures["citing_share"] == pytest.approx(2 / 3)
    assert citation_figures([("[1]", 0)])["citation_validity"] == 0.0


def test_safety_regressions_name_each_worse_figure():
    current = {"citation_validity": 0.97, "guardrail_violation_rate": 0.01,
               "crisis_resource_inclusion": 1.0}
    assert safety_regressions(dict(current), current) == []
    worse = safety_regressions({"citation_validity": 0.9, "guardrail_violation_rate": 0.05,
                                "crisis_resource_inclusion": 1.0}, current)
    assert len(worse) == 2
    assert worse[0].startswith("citation_validity") and worse[1].startswith("guardrail")


def _records(n: int) -> list[dict]:
    return [json.loads(line) for line in HELD_OUT.read_text().splitlines()[:n]]


def test_perplexity_matches_a_token_by_token_computation(tiny_model):
    import torch

    loaded = get_model(active_spec())
    record = _records(1)[0]
    tokenizer, model = loaded.tokenizer, loaded.model
    prompt = tokenizer.apply_chat_template(record["messages"][:-1], add_generation_prompt=True,
                                           tokenize=True, return_dict=True)["input_ids"]
    full = tokenizer.apply_chat_template(record["messages"], tokenize=True,
                                         return_dict=True)["input_ids"]
    with torch.inference_mode():
        logits = model(torch.tensor([full])).logits[0]
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    nll = [-float(log_probs[i - 1, full[i]]) for i in range(len(prompt), len(full))]
    expected = math.exp(sum(nll) / len(nll))
    assert reference_perplexity(loaded, [record]) == pytest.approx(expected, rel=1e-3)


def test_the_held_out_set_is_apart_from_the_training_set():
    train = {json.loads(line)["question"]
             for line in (ROOT / "fixtures/training/sft_train.jsonl").read_text().splitlines()}
    held_out = _records(1000)
    assert len(held_out) >= 80 and len(train) >= 300
    assert not train & {r["question"] for r in held_out}


@pytest.fixture
def small_eval_set(tmp_path: Path) -> Path:
    path = tmp_path / "held.jsonl"
    path.write_text("".join(HELD_OUT.read_text().splitlines(True)[:3]), encoding="utf-8")
    return path


def _evaluate(version: str, eval_set: Path) -> str:
    out = io.StringIO()
    call_command("evaluate", "--model", version, "--set", str(eval_set), "--batch-size", "2",
                 "--max-new-tokens", "8", stdout=out)
    return out.getvalue()


@pytest.fixture
def two_versions(tiny_model: Path) -> tuple[str, str]:
    ModelVersion.objects.create(name="tiny-a", base_model="tiny", path=str(tiny_model))
    ModelVersion.objects.create(name="tiny-b", base_model="tiny", path=str(tiny_model))
    return "tiny-a", "tiny-b"


def test_evaluate_stores_every_figure_and_resumes(two_versions, small_eval_set, settings):
    said = _evaluate("tiny-a", small_eval_set)
    assert "rouge_l" in said
    run = EvaluationRun.objects.get(model_version__name="tiny-a")
    for name in ("perplexity", "rouge_l", "distinct_1", "distinct_2", "citation_validity",
                 "citing_share", "guardrail_violation_rate", "crisis_resource_inclusion",
                 "mean_length_words", "latency_s_per_reply"):
        assert name in run.metrics
    assert run.metrics["examples"] == 3
    assert run.metrics["perplexity"] > 1
    cache = next((Path(settings.VAR_DIR) / "evaluations" / "tiny-a").glob("*.jsonl"))
    assert len(cache.read_text().splitlines()) == 3
    _evaluate("tiny-a", small_eval_set)
    assert len(cache.read_text().splitlines()) == 3  # reused, not generated again
    assert EvaluationRun.objects.filter(model_version__name="tiny-a").count() == 2


def test_compare_prints_both_versions_side_by_side(two_versions, small_eval_set):
    _evaluate("tiny-a", small_eval_set)
    _evaluate("tiny-b", small_eval_set)
    out = io.StringIO()
    call_command("evaluate", "--compare", "tiny-a", "tiny-b", "--set", str(small_eval_set),
                 stdout=out)
    assert "| rouge_l |" in out.getvalue()
    with pytest.raises(CommandError, match="No evaluation"):
        call_command("evaluate", "--compare", "tiny-a", "nope", "--set", str(small_eval_set))


def test_evaluate_rejects_bad_sets_and_unknown_models(two_versions, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(CommandError, match="not UTF-8"):
        _evaluate("tiny-a", bad)
    with pytest.raises(CommandError, match="No model version"):
        _evaluate("<script>", HELD_OUT)


def _run(version: str, **metrics: float) -> None:
    base = {"citation_validity": 1.0, "guardrail_violation_rate": 0.0,
            "crisis_resource_inclusion": 1.0}
    EvaluationRun.objects.create(model_version=ModelVersion.objects.get(name=version),
                                 eval_set="held.jsonl", data_sha256="x",
                                 metrics={**base, **metrics})


def test_promote_refuses_an_unevaluated_version(two_versions):
    with pytest.raises(CommandError, match="has not been evaluated"):
        call_command("promote", "tiny-a")
    assert not ModelVersion.objects.get(name="tiny-a").is_default


def test_promote_refuses_a_safety_regression_unless_forced_with_a_reason(two_versions):
    _run("tiny-a")
    call_command("promote", "tiny-a", stdout=io.StringIO())
    assert active_spec().name == "tiny-a"
    _run("tiny-b", guardrail_violation_rate=0.1)
    with pytest.raises(CommandError, match="guardrail_violation_rate"):
        call_command("promote", "tiny-b")
    with pytest.raises(CommandError, match="needs --reason"):
        call_command("promote", "tiny-b", "--force")
    assert active_spec().name == "tiny-a"
    call_command("promote", "tiny-b", "--force", "--reason", "reviewed by hand",
                 stdout=io.StringIO())
    promoted = ModelVersion.objects.get(name="tiny-b")
    assert promoted.is_default and promoted.metadata["forced_promotion_reason"]
    assert not ModelVersion.objects.get(name="tiny-a").is_default
    event = AuditEvent.objects.filter(action="model_promoted").last()
    assert event.reason == "reviewed by hand" and event.data["model_version"] == "tiny-b"
    assert active_spec().name == "tiny-b"
