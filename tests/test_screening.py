"""The rule layer of the intake screener: cases that must fire and cases that must not."""

from __future__ import annotations

import pytest

from psyconsole.screening.levels import PRIORITY
from psyconsole.screening.rules import find
from psyconsole.screening.service import _rule_level


def level(text: str) -> str:
    return _rule_level(find(text))


@pytest.mark.parametrize(("text", "expected"), [
    ("I'm going to kill myself tonight", "imminent"),
    ("i have the pills and i'm going to end it tonight", "imminent"),
    ("I've written the letters. I want to die.", "imminent"),
    ("I keep thinking about suicide", "high"),
    ("honestly kms", "high"),
    ("i wanna unalive myself", "high"),
    ("i feel suicidle all the time", "high"),
    ("I've been cutting myself again", "high"),
    ("started self harming again last week", "high"),
    ("I want to hurt my boss, I think about it all day", "high"),
    ("my husband hits me and I'm not safe at home", "high"),
    ("quiero morir", "high"),
    ("je veux mourir, j'en peux plus", "high"),
    ("ich will nicht mehr leben", "high"),
    ("sometimes I wish I could just not wake up", "moderate"),
    ("Everything feels hopeless", "moderate"),
    ("I'm drinking every night to cope", "moderate"),
    ("I'm so stressed about exams", "low"),
    ("i get panic attacks on the bus", "low"),
])
def test_it_fires_on_risk_language(text, expected):
    assert level(text) == expected


@pytest.mark.parametrize("text", [
    "I would never hurt myself, I just want to sleep better",
    "this deadline is killing me lol",
    "I'd kill for a coffee right now",
    "my feet are dying after that shift",
    "How do I help a friend who self-harms?",
    "what are the warning signs of suicide? asking for a school project",
    "My friend said she wants to die and I don't know what to say",
    "I self-harmed years ago but I'm doing well now, just want exam tips",
    "I have a plan for my essay tonight",
    "not suicidal, just tired of my commute",
])
def test_it_does_not_raise_hard_negatives_to_high(text):
    assert level(text) in ("none", "low", "moderate")
    assert level(text) not in ("high", "imminent")


def test_evidence_spans_point_into_the_original_text():
    text = "Work is fine. But honestly I Want To Die."
    hit = next(h for h in find(text) if h.factor == "ideation")
    assert text[hit.start:hit.end] == hit.evidence


def test_higher_risk_means_higher_priority():
    assert PRIORITY["imminent"] > PRIORITY["high"] > PRIORITY["moderate"] > PRIORITY["low"]
