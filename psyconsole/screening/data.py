"""The labelled screening sets: fixtures/screening/*.jsonl, plus counsellors' overrides."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from psyconsole.screening.levels import LEVELS
from retrieval import jsonl

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "screening"


@dataclass(frozen=True)
class Labelled:
    id: str
    text: str
    risk_level: str
    kind: str = ""  # what sort of message, where a set says (admin, idiom, crisis, ...)


def read_jsonl(path: Path) -> list[Labelled]:
    rows = []
    for number, row in jsonl.read_jsonl(path):
        try:
            level = row.get("risk_level")
            if level is not None and level not in LEVELS:
                raise ValueError(f"unknown risk_level {level!r}")
            if not isinstance(row["text"], str) or not row["text"].strip():
                raise ValueError("text must be a non-empty string")
            rows.append(Labelled(str(row.get("id", number)), row["text"], level or "",
                                 str(row.get("kind") or "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise jsonl.line_error(path, number, exc) from exc
    return rows


def training_set(include_overrides: bool = True) -> list[Labelled]:
    rows = [r for p in sorted(FIXTURES.glob("train*.jsonl")) for r in read_jsonl(p)]
    if include_overrides:
        from psyconsole.questions.models import ScreeningLabel

        rows += [Labelled(f"override-{label.pk}", label.text, label.risk_level)
                 for label in ScreeningLabel.objects.all()]
    return rows


def eval_set() -> list[Labelled]:
    return read_jsonl(FIXTURES / "eval.jsonl")
