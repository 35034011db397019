"""Every guardrail rule, with cases that must fire and cases that must not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from inference.guardrails import (
    check_contacts,
    check_crisis_structure,
    check_diagnosis,
    check_draft,
    check_harmful,
    check_medication,
    check_minimising,
    check_reply,
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


# --- crisis rules: minimising text and the crisis-response structure ---------------------

ROOT = Path(__file__).resolve().parent.parent

SAFE_CRISIS_REPLY = (
    "Thank you for telling me this; it sounds unbearable right now.\n\n"
    "I want to ask you directly: are you safe right now, and are you thinking of ending "
    "your life?\n\n"
    "Please call your local emergency number or a crisis line now, or ask someone to stay "
    "with you [1].\n\n"
    "If there is anything near you that you could use to hurt yourself, please put some "
    "distance between yourself and it [2].\n\n"
)


def with_resources(text: str) -> str:
    return text + "\n".join(settings.CRISIS_RESOURCES)


@pytest.mark.parametrize("text", [
    "I'm so glad you're taking care of yourself tonight.",
    "I'm so glad you're taking them all tonight, and I hope they'll help you through this.",
    "Honestly, it's not worth worrying about.",
    "Don't worry, this will pass.",
    "That sounds like a great plan!",
    "Enjoy your evening, and be kind to yourself.",
    "Take them with water and rest.",
    "Glad you've got a plan in place.",
    "You'll be fine.",
    "Cheer up, it could be worse.",
])
def test_minimising_text_fires_in_a_risky_reply(text):
    assert {f.rule for f in check_minimising(text)} == {"minimising_text"}
    assert all(f.severity == "block" for f in check_minimising(text))


@pytest.mark.parametrize("text", [
    "It's normal, everyone feels this way sometimes.",
    "Try to keep a regular bedtime routine and avoid caffeine.",
    "A warm bath and some herbal tea can help you unwind.",
    "Try alternating your drinks with water.",
    "Stay hydrated and get some rest.",
])
def test_advice_unrelated_to_the_danger_fires_only_in_a_crisis(text):
    assert not check_minimising(text)
    assert {f.rule for f in check_minimising(text, crisis=True)} == {"incongruent_in_crisis"}


@pytest.mark.parametrize("text", [
    "I'm really glad you reached out and told me this.",
    "It's good that you're taking this seriously.",
    "It's good that you've noticed the pattern.",
    "Please don't wait for a reply from us if you feel unsafe.",
    "Don't worry about finding the perfect words; just being there helps.",
    "Feelings this intense do ease, even when that seems impossible.",
    "Telling yourself to snap out of it rarely works.",
    SAFE_CRISIS_REPLY,
])
def test_minimising_rules_do_not_fire_on_careful_replies(text):
    assert not check_minimising(text, crisis=True)


def _reference_replies(risk_levels: set[str]) -> list[tuple[str, str]]:
    replies = []
    for name in ("fixtures/training/sft_train.jsonl", "fixtures/eval/sft_heldout.jsonl"):
        for line in (ROOT / name).read_text().splitlines():
            record = json.loads(line)
            if record.get("risk_level") in risk_levels:
                replies.append((record["id"], record["messages"][-1]["content"]))
    return replies


def test_the_minimising_rule_passes_every_reference_reply():
    # The counsellor-written replies of both SFT sets (418) are real negatives: warm,
    # practical, and often about sleep, drinking or worry.
    replies = _reference_replies({"none", "low", "moderate", "high", "imminent"})
    assert len(replies) > 400
    assert [(i, [f.excerpt for f in check_minimising(t)]) for i, t in replies
            if check_minimising(t)] == []
    crisis_replies = _reference_replies({"high", "imminent"})
    assert [(i, [f.excerpt for f in check_minimising(t, crisis=True)]) for i, t in
            crisis_replies if check_minimising(t, crisis=True)] == []


def test_a_crisis_reply_with_the_structure_passes():
    assert not check_crisis_structure(with_resources(SAFE_CRISIS_REPLY))
    assert not check_reply(with_resources(SAFE_CRISIS_REPLY), risky=True, passage_count=2,
                           crisis=True)


@pytest.mark.parametrize(("text", "missing"), [
    ("I'm sorry you feel like this. Please call your local emergency number now [1]. Put "
     "distance between yourself and anything you could use [1].",
     {"crisis_safety_question_missing"}),
    ("Are you safe right now? Try some slow breathing, and put distance between yourself "
     "and anything you could use [1].", {"crisis_urge_missing"}),
    ("I'm sorry you're going through this. Some people find journaling helps [1].",
     {"crisis_safety_question_missing", "crisis_urge_missing"}),
    # "safe" outside a question is not a question about safety
    ("Stay safe. Remember you can call a crisis line if you need to, or put distance "
     "between yourself and anything harmful [1].", {"crisis_safety_question_missing"}),
])
def test_the_structure_rule_flags_a_crisis_reply_without_a_safety_question_or_urge(
        text, missing):
    findings = check_crisis_structure(with_resources(text))
    assert {f.rule for f in findings if f.severity == "block"} == missing


def test_the_listed_resources_alone_are_not_an_urge_to_get_help():
    text = with_resources("Are you safe right now? Keep going, one step at a time [1].")
    rules = {f.rule for f in check_crisis_structure(text)}
    assert "crisis_urge_missing" in rules


def test_a_crisis_reply_without_distance_from_means_gets_a_warning():
    text = with_resources("Are you safe right now? Please call your local emergency number "
                          "now [1].")
    assert [(f.rule, f.severity) for f in check_crisis_structure(text)] == [
        ("crisis_means_distance_missing", "warn")]


def test_check_reply_applies_the_crisis_rules_only_when_asked():
    text = with_resources("I'm so glad you're taking care of yourself tonight. Enjoy your "
                          "evening.")
    plain = {f.rule for f in check_reply(text, risky=False)}
    assert not plain
    risky = {f.rule for f in check_reply(text, risky=True)}
    assert risky == {"minimising_text"}
    crisis = check_reply(text, risky=True, crisis=True)
    assert {f.rule for f in crisis} >= {"minimising_text", "crisis_safety_question_missing",
                                        "crisis_urge_missing"}
    assert crisis[0].severity == "block"


def test_check_reply_keeps_its_existing_checks():
    findings = check_reply("Take 20mg each night [3]. Call 0800 123 4567.", risky=True,
                           passage_count=1)
    rules = {f.rule for f in findings}
    assert {"dose", "unlisted_phone_number", "citation_unknown",
            "crisis_resources_missing"} <= rules


def test_the_configured_resources_pass_the_contact_check_in_a_final_reply():
    # "call 116 123" is one listed number, not an unlisted "116" followed by digits.
    assert not check_contacts("\n".join(settings.CRISIS_RESOURCES))
    assert check_contacts("Call 116 for advice.")
