"""The placeholder intake screener: rules that must fire and rules that must not."""

from __future__ import annotations

import pytest

from psyconsole.questions.screening import PRIORITY, screen


@pytest.mark.parametrize(("text", "level"), [
    ("I'm going to kill myself tonight", "imminent"),
    ("I have the pills and I'm going to end it", "imminent"),
    ("I keep thinking about suicide", "high"),
    ("honestly kms", "high"),
    ("I've been cutting myself again", "high"),
    ("Sometimes I wish I could just not wake up", "moderate"),
    ("Everything feels hopeless", "moderate"),
    ("I'm so stressed about exams", "low"),
    ("I get panic attacks on the bus", "low"),
    ("I have been feeling really low lately", "low"),
])
def test_it_raises_the_level_for_risk_language(text, level):
    assert screen(text).risk_level == level


@pytest.mark.parametrize("text", [
    "I would never hurt myself, I just want to sleep better",
    "How do I choose a therapist?",
    "What is mindfulness?",
])
def test_it_does_not_flag_negated_or_neutral_text_as_risky(text):
    assert screen(text).risk_level in ("none", "low")


def test_it_records_evidence_spans():
    text = "Work is fine. But I want to die."
    factor = screen(text).factors[0]
    assert text[factor.start:factor.end] == factor.evidence
    assert factor.factor == "ideation"


def test_higher_risk_means_higher_priority():
    assert screen("I want to die").priority > screen("I'm stressed").priority
    assert screen("I want to kill myself tonight").priority == PRIORITY["imminent"]
