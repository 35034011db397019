"""PII scrubbing for exports: typed placeholders, what must survive, and its measurement."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from psyconsole.exports.pii import CHUNK_CHARS, Scrubbed, get_scrubber, scrub, service_keep
from psyconsole.exports.pii_eval import evaluate, load_rows, marked_to_row

DEV_SET = Path(__file__).resolve().parent.parent / "fixtures" / "pii" / "dev.jsonl"


def test_it_replaces_email_addresses_with_a_typed_placeholder():
    result = scrub("you can reach me on priya.sharma88@gmail.com after work")
    assert result.text == "you can reach me on <EMAIL> after work"
    assert result.found == {"EMAIL": 1}


@pytest.mark.parametrize(("text", "name"), [
    ("hi my name is priya and I can't sleep", "priya"),
    ("My husband Raj keeps shouting at me", "Raj"),
    ("My GP, Dr Okonkwo, put me on sertraline", "Okonkwo"),
    ("my son Will is 8 and wets the bed again", "Will"),
    ("Thanks for listening.\nSiobhan", "Siobhan"),
    ("My ex, Tomasz Kowalski, still messages me", "Tomasz Kowalski"),
])
def test_it_replaces_names_given_with_context(text, name):
    result = scrub(text)
    assert name not in result.text
    assert "<PERSON>" in result.text


@pytest.mark.parametrize("number", [
    "07700 900123", "+44 7700 900982", "020 7946 0958", "(555) 123-4567", "555-867-5309",
    "+1 312 555 0147", "+91 98765 43210", "98450 12345", "+353 87 123 4567",
    "06 12 34 56 78", "+49 30 12345678", "+44 (0)20 7946 0321",
])
def test_it_replaces_phone_numbers_in_uk_us_eu_and_indian_formats(number):
    result = scrub(f"please call me on {number} tonight")
    assert result.text == "please call me on <PHONE> tonight"


@pytest.mark.parametrize(("text", "kind"), [
    ("I live at 14 Elm Road, Leeds LS6 2AB with my kids", "ADDRESS"),
    ("my postcode is M14 5RT", "ADDRESS"),
    ("I was born on 12/03/1987, if that helps", "DATE_OF_BIRTH"),
    ("My NHS number is 943 476 5919.", "ID_NUMBER"),
    ("national insurance number QQ 12 34 56 C", "ID_NUMBER"),
    ("my passport number is 533380006", "ID_NUMBER"),
    ("he posted it on instagram.com/dave_w_1985 again", "URL"),
])
def test_it_replaces_addresses_dates_of_birth_id_numbers_and_urls(text, kind):
    result = scrub(text)
    assert f"<{kind}>" in result.text
    assert result.found.get(kind) == 1


def test_it_keeps_the_crisis_line_numbers_the_service_gives(settings):
    settings.CRISIS_RESOURCES = ["Lumen Line: call 0800 555 0111, any time.",
                                 "Samaritans (UK and Ireland): call 116 123, free, any time."]
    reply = ("Please call Lumen Line on 0800 555 0111 or Samaritans on 116 123. "
             "You gave me 07700 900123 as your number.")
    result = scrub(reply, keep=service_keep())
    assert "0800 555 0111" in result.text and "116 123" in result.text
    assert result.text.endswith("You gave me <PHONE> as your number.")
    assert "<PHONE>" in scrub("call Lumen Line on 0800 555 0111").text  # kept only by keep=


@pytest.mark.parametrize("text", [
    "May I ask whether it's safe to drink on fluoxetine?",
    "Will this feeling ever go away?",
    "By the grace of God I made it through the weekend.",
    "I hope you can help, there is no hope left in me.",
    "I started sertraline 50mg and my doctor suggested CBT, DBT or EMDR.",
    "I was on Prozac, then Zoloft; now quetiapine 100mg at night.",
    "I have an appointment on 3 May. Since 14/02/2023 I can't sleep.",
    "My PHQ-9 score was 19 and my GAD-7 was 16, in 2019 it was worse.",
    "Freezing is a normal reaction. Drop your shoulders and breathe.",
    "I'm British and I'm Tired of pretending.",
    "If you are in immediate danger, call 999 or text SHOUT to 85258.",
])
def test_it_keeps_ordinary_words_and_medication_names(text):
    result = scrub(text, keep=service_keep())
    assert result.text == text
    assert result.found == {}


def test_scrubbing_scrubbed_text_changes_nothing():
    rows = load_rows(DEV_SET)
    for row in rows[::3]:
        once = scrub(row["text"], keep=service_keep())
        assert scrub(once.text, keep=service_keep()).text == once.text


def test_it_handles_empty_text():
    assert scrub("") == Scrubbed(text="", found={}, spans=())


def test_it_handles_text_longer_than_one_chunk():
    text = ("I have been low for weeks and nothing helps. " * (CHUNK_CHARS // 15)
            + "My sister Niamh knows. Call me on 07700 900123.")
    assert len(text) > 2 * CHUNK_CHARS
    result = scrub(text)
    assert result.found == {"PERSON": 1, "PHONE": 1}
    assert result.text.endswith("My sister <PERSON> knows. Call me on <PHONE>.")


def test_it_handles_non_ascii_text():
    result = scrub("Je m'appelle Élodie, j'habite 12 rue de Rivoli, 75001 Paris. 日本語もOK")
    assert result.text == "Je m'appelle <PERSON>, j'habite <ADDRESS>. 日本語もOK"


def test_it_returns_text_free_of_lone_surrogates():
    result = scrub("my email is a.b@example.com \ud800 and that's all")
    assert result.text == "my email is <EMAIL> \ufffd and that's all"
    result.text.encode("utf-8")


def test_the_spans_say_where_each_entity_stood():
    text = "I'm Aisha Bello, 07700 900314."
    result = scrub(text)
    assert [(kind, text[start:end]) for kind, start, end in result.spans] == [
        ("PERSON", "Aisha Bello"), ("PHONE", "07700 900314")]


def test_without_the_ner_model_it_still_finds_names_and_numbers():
    fast = get_scrubber(ner=False)
    assert "tokenizer only" in fast.engine
    result = fast.scrub("my husband Raj said call 07700 900123, May I ask about CBT?")
    assert result.text == "my husband <PERSON> said call <PHONE>, May I ask about CBT?"


class _StubScrubber:
    """Replaces exactly the spans it is given, so that recall is known in advance."""

    engine = "stub"

    def __init__(self, spans: dict[str, tuple[tuple[str, int, int], ...]]) -> None:
        self.spans = spans

    def scrub(self, text: str, *, keep: Any = ()) -> Scrubbed:
        return Scrubbed(text=text, found={}, spans=self.spans.get(text, ()))


def test_the_evaluation_computes_known_recall_on_a_hand_made_set():
    rows = [
        marked_to_row("I'm [[PERSON|Sam Hill]], NHS no [[ID_NUMBER|943 476 5919]].", "a"),
        marked_to_row("my name is [[PERSON|kemi]], mail [[EMAIL|k@x.org]] or not", "b"),
    ]
    stub = _StubScrubber({
        rows[0]["text"]: (("PERSON", 4, 12), ("PHONE", 21, 33)),  # ID typed as a phone
        rows[1]["text"]: (("EMAIL", 22, 29), ("PERSON", 33, 36)),  # "not" is a false hit
    })
    report = evaluate(rows, scrubber=stub)
    per_type = report["per_type"]
    assert per_type["PERSON"]["recall_typed"] == 0.5 and per_type["PERSON"]["recall_any"] == 0.5
    assert per_type["ID_NUMBER"]["recall_typed"] == 0.0
    assert per_type["ID_NUMBER"]["recall_any"] == 1.0
    assert per_type["EMAIL"]["recall_typed"] == 1.0
    assert report["recall_typed"] == 0.5 and report["recall_any"] == 0.75
    assert report["false_replacements"] == 1
    assert report["false_replacement_list"] == [{"id": "b", "type": "PERSON", "value": "not"}]
    assert report["missed"] == [{"id": "b", "type": "PERSON", "value": "kemi"}]


def test_the_dev_set_is_large_and_its_offsets_match():
    rows = load_rows(DEV_SET)
    assert len(rows) >= 200
    assert sum(1 for row in rows if not row["entities"]) >= 60
    for row in rows:
        for entity in row["entities"]:
            assert row["text"][entity["start"]:entity["end"]] == entity["value"]


def test_the_eval_pii_command_runs_on_a_small_set(tmp_path):
    path = tmp_path / "pii.jsonl"
    rows = [marked_to_row("ring me on [[PHONE|07700 900123]] please", "t1"),
            marked_to_row("my email is [[EMAIL|sam@example.org]]", "t2"),
            marked_to_row("May I ask about sertraline?", "t3")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = StringIO()
    call_command("eval_pii", "--set", str(path), "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["snippets"] == 3
    assert report["per_type"]["PHONE"]["recall_typed"] == 1.0
    assert report["per_type"]["EMAIL"]["recall_typed"] == 1.0
    assert report["false_replacements"] == 0
    assert report["timing_ms"]["mean"] > 0
    text = StringIO()
    call_command("eval_pii", "--set", str(path), stdout=text)
    assert "PHONE" in text.getvalue() and "time per snippet" in text.getvalue()


def test_the_eval_pii_command_refuses_a_missing_set(tmp_path):
    with pytest.raises(CommandError, match="No PII set"):
        call_command("eval_pii", "--set", str(tmp_path / "absent.jsonl"))
