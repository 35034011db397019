"""Every guardrail rule, with cases that must fire and cases that must not."""

from __future__ import annotations

import pytest

from inference.guardrails import (
    check_contacts,
    check_diagnosis,
    check_draft,
    check_harmful,
    check_medication,
    remove_invalid_citations,
)


@pytest.mark.parametrize("text", [
    "It sounds like you have depression.",
    "You have an anxiety disorder and should rest.",
    "you've got PTSD from that event",
    "You are clinically depressed.",
    "Looks like bipolar disorder to me.",
    "You may have OCD.",
])
def test_diagnosis_language_fires(text):
    assert check_diagnosis(text)


@pytest.mark.parametrize("text", [
    "Many people with depression find small steps help [1].",
    "Anxiety is a common reaction to stress.",
    "A doctor can talk with you about whether this might be depression.",
    "You are not alone, and you have done nothing wrong.",
])
def test_diagnosis_language_does_not_fire_on_psychoeducation(text):
    assert not check_diagnosis(text)


@pytest.mark.parametrize(("text", "rule"), [
    ("You could take sertraline to feel better.", "medication_advice"),
    ("Try some melatonin before bed.", "medication_advice"),
    ("Antidepressants will help you.", "medication_advice"),
    ("Take 20mg each night.", "dose"),
    ("Two tablets a day should do it.", "dose"),
    ("Some people are prescribed diazepam.", "medication_named"),
])
def test_medication_and_dose_advice_fires(text, rule):
    assert rule in {f.rule for f in check_medication(text)}


@pytest.mark.parametrize("text", [
    "A GP can talk through treatment options with you, including medication.",
    "Try the 4-7-8 breathing pattern for 5 minutes.",
    "Aim for no more than 14 units of alcohol a week.",
    "Write three things down each evening.",
])
def test_medication_rules_do_not_fire_on_ordinary_advice(text):
    assert not check_medication(text)


@pytest.mark.parametrize("text", [
    "Nobody should tell you how many pills would be dangerous.",
    "Some people look for a painless way out.",
    "You should just end it.",
])
def test_harmful_content_fires(text):
    assert check_harmful(text)


@pytest.mark.parametrize("text", [
    "If you are thinking about suicide, please call 988 or Samaritans on 116 123.",
    "Self-harm is a sign of distress, not attention-seeking.",
    "Keep yourself safe tonight and reach out to someone you trust.",
])
def test_harmful_content_does_not_fire_on_safe_messaging(text):
    assert not check_harmful(text)


@pytest.mark.parametrize("text", [
    "Call 0800 123 4567 for advice.",
    "Text 85258 any time.",
    "See https://example.com/help for more.",
    "Visit www.example.org today.",
])
def test_unlisted_numbers_and_links_fire(text):
    assert check_contacts(text)


@pytest.mark.parametrize("text", [
    "Call Samaritans on 116 123 or text 988.",
    "In an emergency call 999, 112 or 911.",
    "Try the 5-4-3-2-1 grounding exercise for 10 minutes.",
    "Read more in the source: /corpus/sleep/ [1].",
    "It has been 3 weeks since 2024.",
])
def test_listed_numbers_and_ordinary_numbers_do_not_fire(text):
    assert not check_contacts(text, allowed_urls=["/corpus/sleep/"])


def test_a_given_source_url_is_allowed():
    assert not check_contacts("More at http://127.0.0.1:8001/articles/sleep.html",
                              allowed_urls=["http://127.0.0.1:8001/articles/sleep.html"])


def test_invalid_citations_are_removed_and_listed():
    text, findings = remove_invalid_citations("Breathe slowly [1]. Rest [3].", 2)
    assert text == "Breathe slowly [1]. Rest."
    assert [f.excerpt for f in findings] == ["[3]"]
    assert remove_invalid_citations("Fine [1][2].", 2) == ("Fine [1][2].", [])


def test_findings_come_most_serious_first():
    _, findings = check_draft("See [9]. You have depression.", 1)
    assert [f.severity for f in findings] == ["block", "info"]
