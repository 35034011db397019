"""The rule layer of the intake screener: cases that must fire and cases that must not."""

from __future__ import annotations

import pytest

from psyconsole.screening.levels import PRIORITY
from psyconsole.screening.rules import find, level_of


def level(text: str) -> str:
    return level_of(find(text))


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
    "ugh i want to die of embarrassment, i just called my teacher mum",
    "I wrote my note for work, can you sign it?",
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


@pytest.mark.parametrize(("text", "expected"), [
    ("Since my wife left I think about suicide every single day.", "high"),
    ("je vais me tuer ce soir", "imminent"),
    ("i wrote my note today", "imminent"),
    ("मैं अब और नहीं जीना चाहता।", "high"),
    ("me voy a matar esta noche", "imminent"),
    ("ich denke jeden Tag daran, mich umzubringen", "high"),
    ("Penso em me matar quase todos os dias.", "high"),
    ("been cutting again, most nights this week", "high"),
    ("burned myself again last night", "high"),
    ("relapsed on sh last night, first time in 8 months", "high"),
    ("Je me scarifie depuis quelques mois", "high"),
    ("suicidal thoughts every day this week", "high"),
    ("I keep imagining hurting him and the thoughts are getting stronger", "high"),
    ("my husband texted that he's going to kill me when he gets home", "high"),
    ("I've already taken too many of my tablets", "imminent"),
    ("Ich habe gerade viel zu viele Tabletten genommen", "imminent"),
    ("goodbye texts are written and scheduled to send at midnight", "imminent"),
    ("planning to ctb this weekend, ive sorted everything", "imminent"),
])
def test_it_reads_first_person_risk_in_many_phrasings(text, expected):
    assert level(text) == expected


@pytest.mark.parametrize("text", [
    "What does 'passive suicidal ideation' actually mean? It came up on my course.",
    "Can you recommend a podcast about men's suicide rates for a talk at work?",
    "The show had a self-harm scene. Are there guidelines for showing it?",
    "A singer I loved died by suicide this week. I'm safe, nothing like that.",
    "I'm scared of losing my friends when I come out.",
    "Now I'm terrified of the resit.",
    "I'm worried my teenage son might be self-harming. How do I ask him?",
    "that boss fight killed me 40 times tonight i want to die lmaooo",
    "my coworker chews so loud I want to strangle him 🙄",
])
def test_topic_mentions_fears_and_jokes_are_not_high_risk(text):
    assert level(text) not in ("high", "imminent")


def test_a_joke_lowers_ideation_to_moderate_not_to_nothing():
    assert level("lol i want to die, this week is endless") == "moderate"
