"""The one JSON Lines reader: every bad line is named by its number, and never hides
the good ones."""

from __future__ import annotations

import pytest

from retrieval.jsonl import JsonlError, json_lines, read_jsonl


def test_it_reads_records_with_their_line_numbers_and_skips_blank_lines(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": 1}\n\n   \n{"id": 2}\n', encoding="utf-8")
    assert list(read_jsonl(path)) == [(1, {"id": 1}), (4, {"id": 2})]


@pytest.mark.parametrize(("line", "error"), [
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"id": 1', "not JSON"),
    (b"[1, 2]", "expected a JSON object, not a list"),
    (b'"text"', "expected a JSON object, not a str"),
])
def test_it_names_the_file_and_line_of_a_bad_record(tmp_path, line, error):
    path = tmp_path / "set.jsonl"
    path.write_bytes(b'{"id": 1}\n' + line + b"\n")
    with pytest.raises(JsonlError, match=f"set.jsonl line 2: {error}"):
        list(read_jsonl(path))


def test_a_bad_line_does_not_hide_the_lines_after_it():
    lines = list(json_lines(b'\xff\n{"a": 1}\nnot json\n{"b": 2}\n'))
    assert [(line.number, line.record) for line in lines] == [
        (1, None), (2, {"a": 1}), (3, None), (4, {"b": 2})]
    assert lines[0].error.startswith("not UTF-8")
