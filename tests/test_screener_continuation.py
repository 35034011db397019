"""Continuing a saved screener on files it has not seen: it starts from the saved
weights, replays some earlier messages, and chooses thresholds only on messages that
neither it nor the earlier model trained on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from psyconsole.screening import classifier
from psyconsole.screening.data import FIXTURES

LEVELS = ["none", "low", "moderate", "high", "imminent"]


def test_the_split_holds_back_what_the_earlier_model_held_back() -> None:
    options = classifier.TrainingOptions()
    old = [LEVELS[i % 5] for i in range(100)]
    new = [LEVELS[i % 5] for i in range(40)]
    earlier_fit, earlier_calibration = classifier.calibration_split(
        np.array([classifier.RANK[v] for v in old]), options)
    fit, calibration = classifier.continuation_split(old, new, replay=30, options=options)
    assert set(earlier_calibration) <= set(calibration)
    assert not set(fit) & set(calibration)
    replayed = [r for r in fit if r < 100]
    assert len(replayed) == 30 and set(replayed) <= set(earlier_fit)
    assert len([r for r in fit if r >= 100]) == 32 and len(calibration) == 20 + 8


def test_continuing_starts_from_the_saved_weights(tmp_path: Path) -> None:
    texts = ["I want to die tonight", "how do I reset my login", "I feel a bit low",
             "I'm going to take all my pills now", "is this service free",
             "I keep crying since the funeral", "what are your hours", "I can't go on"]
    levels = ["high", "none", "low", "imminent", "none", "low", "none", "high"]
    quick = classifier.TrainingOptions(epochs=1, batch_size=8)
    saved, _ = classifier.train(texts, levels, options=quick)
    saved.save(tmp_path / "saved")
    # With no learning, the continued model is the saved one, head included (a fresh
    # head would be random).
    frozen = classifier.TrainingOptions(epochs=1, batch_size=8, learning_rate=0.0)
    continued, _ = classifier.train(texts, levels, options=frozen,
                                    start_from=tmp_path / "saved")
    probe = ["my friend texted goodbye and won't answer", "can I change my appointment"]
    reloaded = classifier.ScreeningModel.load(tmp_path / "saved")
    np.testing.assert_allclose(continued.probabilities(probe), reloaded.probabilities(probe),
                               atol=2e-3)
    assert continued.meta["continued_from"] == str(tmp_path / "saved")


def test_it_refuses_a_base_whose_held_back_messages_cannot_be_told(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / classifier.RECORD).write_text(json.dumps({"examples": 5, "thresholds": {}}))
    newest = sorted(FIXTURES.glob("train*.jsonl"))[-1]
    with pytest.raises(CommandError, match="train afresh"):
        call_command("train_screener", "--no-overrides", "--continue-from", str(base),
                     "--new", str(newest), "--out", str(tmp_path / "out"))
    with pytest.raises(CommandError, match="needs --new"):
        call_command("train_screener", "--no-overrides", "--continue-from", str(base))
