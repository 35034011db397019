"""Commands given bad input say so and carry on where they can: `retrieve` with an
argument that is not UTF-8, `screen` with a line nested too deeply or holding a lone
surrogate, and the shared JSONL reader under both."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from retrieval.jsonl import JsonlError, json_lines, read_jsonl

DEEP = "[" * 100_000 + "]" * 100_000


def test_retrieve_refuses_an_argument_that_is_not_utf8():
    # How Python hands over argv bytes \xff\xfe: as lone surrogates (surrogateescape).
    text = b"sleep \xff\xfe".decode("utf-8", "surrogateescape")
    with pytest.raises(CommandError, match="not valid UTF-8"):
        call_command("retrieve", text)


def test_screen_reports_a_deeply_nested_line_and_screens_the_rest(tmp_path: Path):
    path = tmp_path / "messages.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "a", "text": "I can't sleep before exams."}),
        '{"id": "deep", "text": ' + DEEP + "}",
        DEEP,
        '{"id": "b", "text": "I want to kill myself tonight \\ud800"}',
        json.dumps({"id": "c", "text": "Work is stressful."}),
    ]), encoding="utf-8")
    out = io.StringIO()
    call_command("screen", str(path), stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r.get("id") for r in rows] == ["a", None, None, "b", "c"]
    assert [r["line"] for r in rows if "error" in r] == [2, 3]
    assert all("nested too deeply" in r["error"] for r in rows if "error" in r)
    # The lone surrogate does not stop a crisis message from being screened.
    assert rows[3]["risk_level"] in ("high", "imminent")


def test_the_reader_names_a_deeply_nested_line_and_reads_on():
    lines = list(json_lines(b'{"a": 1}\n' + DEEP.encode() + b'\n{"b": 2}\n'))
    assert [(line.number, line.record) for line in lines] == \
        [(1, {"a": 1}), (2, None), (3, {"b": 2})]
    assert "nested too deeply" in lines[1].error


def test_read_jsonl_raises_its_own_error_for_one(tmp_path: Path):
    path = tmp_path / "set.jsonl"
    path.write_bytes(b'{"a": 1}\n' + DEEP.encode() + b"\n")
    with pytest.raises(JsonlError, match=r"set\.jsonl line 2: not JSON"):
        list(read_jsonl(path))
