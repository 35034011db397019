"""The screening classifier, trained and loaded through the real code, and the commands
that use the screener."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from psyconsole.screening import classifier, screen
from psyconsole.screening.data import FIXTURES, eval_set, read_jsonl, training_set
from retrieval.dedup import is_near_duplicate, simhash

pytestmark = pytest.mark.django_db


def test_the_labelled_sets_are_large_enough_and_kept_apart():
    train, held_out = training_set(include_overrides=False), eval_set()
    assert len(train) + len(held_out) >= 600
    crisis = [r for r in train + held_out if r.risk_level in ("high", "imminent")]
    assert len(crisis) >= 150
    held_hashes = [simhash(r.text) for r in held_out]
    dev = read_jsonl(FIXTURES / "dev.jsonl") + read_jsonl(FIXTURES / "dev_b.jsonl")
    short_dev = read_jsonl(FIXTURES / "dev_short.jsonl")
    for row in train + dev + short_dev:
        h = simhash(row.text)
        assert not any(is_near_duplicate(h, e, max_distance=2) for e in held_hashes), row.id
    # The dev sets by writers who never read the training files share no message with
    # it: neither the short one nor the two independent ones.
    independent = short_dev + read_jsonl(FIXTURES / "dev_c.jsonl") + read_jsonl(
        FIXTURES / "dev_d.jsonl")
    independent_hashes = [simhash(r.text) for r in independent]
    pending = [r for p in sorted((FIXTURES / "pending").glob("*.jsonl")) for r in read_jsonl(p)]
    for row in train + pending:
        h = simhash(row.text)
        assert not any(is_near_duplicate(h, e, max_distance=2)
                       for e in independent_hashes + held_hashes), row.id


def test_training_data_does_not_teach_that_short_means_crisis():
    """The cause of the false alarms on one-liners: in the first five training files 59 of
    the 87 messages of twelve words or fewer were high or imminent and 18 none or low, so
    the encoder learned that a short message is a crisis."""
    short = [r for r in training_set(include_overrides=False) if len(r.text.split()) <= 12]
    crisis = [r for r in short if r.risk_level in ("high", "imminent")]
    assert len(short) >= 300
    assert len(crisis) / len(short) < 0.5


def test_the_shipped_classifier_loads_with_its_record(trained):
    model = classifier.get_model()
    assert classifier.model_path() == trained
    assert model is not None and model.network.head.out_features == 5
    assert set(model.thresholds) == {"low", "moderate", "high", "imminent"}
    assert model.meta["trained_on"] + model.meta["thresholds_chosen_on"] == model.meta[
        "examples"] == len(training_set(include_overrides=False))
    assert classifier.get_model() is model  # cached until it is retrained
    probabilities = model.probabilities(["I can't stop crying since the funeral", "hi"])
    assert probabilities.shape == (2, 5)
    assert probabilities.sum(axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)


def test_the_shipped_classifier_is_small_enough_for_the_repository(trained):
    size = sum(f.stat().st_size for f in trained.rglob("*") if f.is_file())
    assert size < 3_000_000


def test_train_screener_trains_saves_and_loads_a_model(settings, tmp_path):
    out = tmp_path / "retrained"
    said = io.StringIO()
    call_command("train_screener", "--no-overrides", "--sample", "40", "--epochs", "1",
                 "--out", str(out), stdout=said)
    assert "Trained on 40 messages" in said.getvalue()
    assert (out / classifier.ADAPTER / "adapter_model.safetensors").is_file()
    loaded = classifier.ScreeningModel.load(out)
    assert loaded.meta["examples"] == 40
    assert min(loaded.thresholds.values()) >= settings.SCREENING_MIN_THRESHOLD
    # A screener retrained here is used in place of the shipped one.
    settings.SCREENER_MODEL_PATH = str(out)
    assert classifier.model_path() == out


def test_the_classifier_raises_what_the_rules_miss(trained):
    result = screen("everyone would honestly be better off if i just wasn't around anymore")
    assert result.risk_level in ("moderate", "high", "imminent")
    assert result.classifier_level is not None


def test_screening_without_a_trained_model_still_uses_the_rules(settings, tmp_path):
    settings.SCREENER_MODEL_PATH = str(tmp_path / "missing")
    assert classifier.model_path() is None
    result = screen("I'm going to kill myself tonight")
    assert result.risk_level == "imminent" and result.classifier_level is None


def test_screen_prints_one_json_line_per_input(trained, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": 1, "text": "I want to kill myself tonight"}\n'
                     b'{"id": "b", "text": "what is mindfulness?"}\n'
                     b'not json\n{"id": 3}\n{"id": 4, "text": "caf\xff"}\n')
    out = io.StringIO()
    call_command("screen", str(path), stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("id") for line in lines] == [1, "b", None, None, 4]
    assert lines[0]["risk_level"] == "imminent"
    assert {f["factor"] for f in lines[0]["factors"]} >= {"ideation", "timeline"}
    assert "error" in lines[2] and "error" in lines[3]
    assert set(lines[1]) >= {"id", "risk_level", "factors", "topics"}


def test_eval_screening_reports_the_figures(trained):
    out = io.StringIO()
    call_command("eval_screening", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["messages"] == len(read_jsonl(FIXTURES / "eval.jsonl"))
    assert set(report) >= {"confusion", "per_level", "crisis_recall", "ideation_recall",
                           "false_alarm_rate"}
    assert report["crisis_recall"] >= 0.95  # a regression guard; the target is 0.98


def test_eval_screening_rejects_a_malformed_set(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi", "risk_level": "extreme"}\n')
    with pytest.raises(CommandError, match="unknown risk_level"):
        call_command("eval_screening", "--set", str(bad))


def test_thresholds_leave_to_the_classifier_only_what_the_rules_miss():
    import numpy as np

    from psyconsole.screening.classifier import choose_thresholds

    # Ten high-risk messages (rank 3) with P(high or above) from 0.1 to 1.0, and ten safe.
    y = np.array([3] * 10 + [0] * 10)
    p_high = np.concatenate([np.linspace(0.1, 1.0, 10), np.full(10, 0.05)])
    probabilities = np.zeros((20, 5))
    probabilities[:, 3] = p_high
    probabilities[:, 0] = 1 - p_high
    alone = choose_thresholds(probabilities, y, crisis_recall=0.9)
    # Alone, the classifier must catch 9 of 10: the threshold is the 9th highest score.
    assert alone["high"] == pytest.approx(0.2)
    # The rules already catch the five lowest-scoring cases; the classifier needs 4 more.
    rules = np.array([3] * 5 + [0] * 5 + [0] * 10)
    together = choose_thresholds(probabilities, y, rules, crisis_recall=0.9)
    assert together["high"] == pytest.approx(0.7)
    # The rules catch all of them: the classifier is left a strict threshold.
    assert choose_thresholds(probabilities, y, np.array([3] * 10 + [0] * 10))["high"] == 0.9


def test_a_threshold_the_targets_would_set_too_low_stops_at_the_floor():
    import numpy as np

    from psyconsole.screening.classifier import choose_thresholds

    y = np.array([3] * 10 + [0] * 10)
    probabilities = np.zeros((20, 5))
    probabilities[:, 3] = np.concatenate([np.linspace(0.01, 0.9, 10), np.full(10, 0.005)])
    probabilities[:, 0] = 1 - probabilities[:, 3]
    assert choose_thresholds(probabilities, y, crisis_recall=1.0)["high"] == pytest.approx(0.02)
    assert choose_thresholds(probabilities, y, crisis_recall=1.0, floor=0.3)["high"] == 0.3
