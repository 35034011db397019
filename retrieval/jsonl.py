"""Reading JSON Lines files ("line N: what is wrong"), shared by every data set the
project reads: screening sets, retrieval sets, fine-tuning records and the files
`manage.py screen` is given.

Each line is decoded on its own, so one line that is not UTF-8 or not a JSON object is
reported with its number and never hides the others. It lives in `retrieval`, the
lowest layer, because `inference` and `psyconsole` both read such files and `inference`
must not import `psyconsole`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class JsonlError(ValueError):
    """A line that is not a JSON object, or a record a caller refused."""


@dataclass(frozen=True)
class JsonLine:
    number: int  # 1-based, as an editor shows it
    record: dict[str, Any] | None  # None when the line is not a JSON object
    error: str = ""


def json_lines(raw: bytes, *, decode_errors: str = "strict") -> Iterator[JsonLine]:
    """Every non-blank line of `raw`, parsed; a bad line carries its error instead.

    With `decode_errors="replace"` a byte that is not UTF-8 becomes U+FFFD rather than
    failing its line: for screening, where a message with one stray byte must still be
    screened."""
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8", errors=decode_errors)
        except UnicodeDecodeError as exc:
            yield JsonLine(number, None, f"not UTF-8 (byte {exc.start + 1} of the line)")
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            yield JsonLine(number, None, f"not JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            # json gives up past the interpreter's recursion limit; one such line must
            # not stop the lines after it from being read.
            yield JsonLine(number, None, "not JSON (nested too deeply)")
            continue
        except ValueError:
            yield JsonLine(number, None, "not JSON (a number is too long)")
            continue
        if not isinstance(record, dict):
            yield JsonLine(number, None,
                           f"expected a JSON object, not a {type(record).__name__}")
            continue
        yield JsonLine(number, record)


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for every record; raises JsonlError naming the file and the
    line at the first bad one, and OSError if the file cannot be read."""
    for line in json_lines(path.read_bytes()):
        if line.record is None:
            raise JsonlError(f"{path.name} line {line.number}: {line.error}")
        yield line.number, line.record


def line_error(path: Path, number: int, exc: Exception) -> JsonlError:
    """A caller's refusal of a record, worded like the reader's own errors."""
    return JsonlError(f"{path.name} line {number}: {exc}")
