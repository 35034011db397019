"""Measuring the PII scrubber on a labelled set.

A set is JSON lines, one snippet each::

    {"id": "...", "text": "...", "entities": [{"type": "PERSON", "start": 11, "end": 16,
                                               "value": "Priya"}]}

with character offsets into ``text`` and the types of ``pii.ENTITY_TYPES``.

- An entity is *found* when placeholders cover every one of its non-space characters:
  placeholders of its own type for the *typed* recall, any placeholders for the *any*
  recall (an ID number replaced as ``<PHONE>`` is out of the export all the same).
- A *false replacement* is a placeholder that overlaps no labelled entity: ordinary text
  lost. They are counted and listed.
- Timing is the wall time of ``scrub()`` per snippet, one call each, as the export calls it.

The project's development set (``fixtures/pii/dev.jsonl``) is written from
``fixtures/pii/dev.marked.txt``, where each line is a snippet with its entities marked
``[[TYPE|value]]`` and ``\\n`` for a line break (lines starting with "# " are comments);
``marked_to_row`` reads that form and
``build_from_marked("fixtures/pii/dev.marked.txt", "fixtures/pii/dev.jsonl")`` rewrites
the set after an edit.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from psyconsole.exports.pii import ENTITY_TYPES, Scrubber, get_scrubber

_MARK = re.compile(r"\[\[([A-Z_]+)\|(.*?)\]\]")


def marked_to_row(line: str, row_id: str) -> dict[str, Any]:
    """A row from a snippet with its entities marked ``[[TYPE|value]]``."""
    line = line.replace("\\n", "\n")
    text_parts: list[str] = []
    entities: list[dict[str, Any]] = []
    pos = 0
    length = 0
    for m in _MARK.finditer(line):
        before = line[pos:m.start()]
        text_parts.append(before)
        length += len(before)
        kind, value = m.group(1), m.group(2)
        if kind not in ENTITY_TYPES:
            raise ValueError(f"{row_id}: unknown entity type {kind!r}")
        entities.append({"type": kind, "start": length, "end": length + len(value),
                         "value": value})
        text_parts.append(value)
        length += len(value)
        pos = m.end()
    text_parts.append(line[pos:])
    return {"id": row_id, "text": "".join(text_parts), "entities": entities}


def build_from_marked(source: str | Path, target: str | Path, prefix: str = "dev") -> int:
    """Write the JSONL set `target` from the marked snippets in `source`; returns the
    number of rows. Ids are `prefix-NNN`, NNN the line number in `source`."""
    rows = []
    with open(source, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.strip() and not line.startswith("# "):
                rows.append(marked_to_row(line, f"{prefix}-{number:03d}"))
    with open(target, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            for entity in row.get("entities", []):
                if row["text"][entity["start"]:entity["end"]] != entity.get(
                        "value", row["text"][entity["start"]:entity["end"]]):
                    raise ValueError(f"{path}:{number}: offsets of {entity} do not match "
                                     "its value")
            rows.append(row)
    return rows


def _covered(entity: dict[str, Any], text: str, spans: Iterable[tuple[int, int]]) -> bool:
    marked = [False] * (entity["end"] - entity["start"])
    for start, end in spans:
        for i in range(max(start, entity["start"]), min(end, entity["end"])):
            marked[i - entity["start"]] = True
    return all(ok or text[entity["start"] + i].isspace() for i, ok in enumerate(marked))


def evaluate(rows: Iterable[dict[str, Any]], *, keep: Iterable[str] = (),
             scrubber: Scrubber | None = None) -> dict[str, Any]:
    """Recall per entity type (typed and any), false replacements and timing."""
    scrubber = scrubber or get_scrubber()
    keep = tuple(keep)
    gold: dict[str, int] = dict.fromkeys(ENTITY_TYPES, 0)
    typed: dict[str, int] = dict.fromkeys(ENTITY_TYPES, 0)
    anyhow: dict[str, int] = dict.fromkeys(ENTITY_TYPES, 0)
    missed: list[dict[str, Any]] = []
    mistyped: list[dict[str, Any]] = []
    false_replacements: list[dict[str, Any]] = []
    placeholders: dict[str, int] = dict.fromkeys(ENTITY_TYPES, 0)
    timings: list[float] = []
    snippets = 0
    for row in rows:
        snippets += 1
        text = row["text"]
        started = time.perf_counter()
        result = scrubber.scrub(text, keep=keep)
        timings.append((time.perf_counter() - started) * 1000)
        spans = result.spans
        for entity in row.get("entities", []):
            kind = entity["type"]
            gold[kind] = gold.get(kind, 0) + 1
            same = [(s, e) for k, s, e in spans if k == kind]
            typed_ok = _covered(entity, text, same)
            if typed_ok:
                typed[kind] = typed.get(kind, 0) + 1
            if _covered(entity, text, [(s, e) for _, s, e in spans]):
                anyhow[kind] = anyhow.get(kind, 0) + 1
                if not typed_ok:
                    mistyped.append({"id": row.get("id"), "type": kind,
                                     "value": entity["value"],
                                     "as": sorted({k for k, s, e in spans
                                                   if s < entity["end"] and entity["start"] < e})})
            else:
                missed.append({"id": row.get("id"), "type": kind, "value": entity["value"]})
        for kind, start, end in spans:
            placeholders[kind] = placeholders.get(kind, 0) + 1
            if not any(e["start"] < end and start < e["end"] for e in row.get("entities", [])):
                false_replacements.append({"id": row.get("id"), "type": kind,
                                           "value": text[start:end]})
    per_type = {
        kind: {"entities": gold[kind], "found_typed": typed[kind], "found_any": anyhow[kind],
               "recall_typed": _ratio(typed[kind], gold[kind]),
               "recall_any": _ratio(anyhow[kind], gold[kind]),
               "placeholders": placeholders[kind],
               "false_replacements": sum(1 for f in false_replacements if f["type"] == kind)}
        for kind in gold
    }
    total = sum(gold.values())
    return {
        "snippets": snippets,
        "entities": total,
        "recall_typed": _ratio(sum(typed.values()), total),
        "recall_any": _ratio(sum(anyhow.values()), total),
        "per_type": per_type,
        "false_replacements": len(false_replacements),
        "false_replacement_list": false_replacements,
        "missed": missed,
        "mistyped": mistyped,
        "timing_ms": {
            "mean": round(statistics.fmean(timings), 2) if timings else None,
            "median": round(statistics.median(timings), 2) if timings else None,
            "p95": round(sorted(timings)[int(0.95 * (len(timings) - 1))], 2)
            if timings else None,
            "total_s": round(sum(timings) / 1000, 2),
        },
        "engine": scrubber.engine,
    }


def _ratio(found: int, total: int) -> float | None:
    return round(found / total, 4) if total else None
