"""The dataset card written beside every export (README.md), with a Hugging Face
`configs` header so that `datasets.load_dataset(folder, "sft")` finds each format."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psyconsole.questions.models import Review

# Why a question's reply is never in an export (selectors.reviews_to_export).
HUMAN_ONLY_LEFT_OUT = "the client asked for a reply without AI"


@dataclass
class Stats:
    """What an export took and left, gathered as it streams (memory stays flat)."""

    seen: int = 0
    exported: int = 0
    by_split: Counter[str] = field(default_factory=Counter)
    by_risk: Counter[str] = field(default_factory=Counter)
    by_model: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    rubric_sums: Counter[str] = field(default_factory=Counter)
    rubric_counts: Counter[str] = field(default_factory=Counter)
    first: datetime | None = None
    last: datetime | None = None

    def add_review(self, review: Review, rubric: dict[str, Any], split: str) -> None:
        self.exported += 1
        self.by_split[split] += 1
        self.by_risk[review.question.risk_level] += 1
        if review.draft is not None:
            self.by_model[review.draft.model_version.name] += 1
        for dimension, value in rubric.items():
            if isinstance(value, bool):
                value = int(value)
            if isinstance(value, int | float):
                self.rubric_sums[dimension] += value
                self.rubric_counts[dimension] += 1
        self.first = min(self.first or review.created_at, review.created_at)
        self.last = max(self.last or review.created_at, review.created_at)

    def rubric_means(self) -> dict[str, float]:
        return {d: round(self.rubric_sums[d] / n, 2)
                for d, n in sorted(self.rubric_counts.items()) if n}

    def counts(self) -> dict[str, Any]:
        return {"reviews_seen": self.seen, "reviews_exported": self.exported,
                "by_split": dict(self.by_split), "by_risk_level": dict(self.by_risk),
                "by_model_version": dict(self.by_model), "left_out": dict(self.skipped),
                "rows": dict(sorted(self.rows.items())),
                "date_range": [self.first.isoformat() if self.first else None,
                               self.last.isoformat() if self.last else None]}


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) if rows else "(none)"


def render(manifest: dict[str, Any], stats: Stats, agreement: dict[str, Any],
           pii_found: dict[str, int]) -> str:
    # Only files with rows: `datasets` refuses a split that holds no data.
    splits: dict[str, list[str]] = {}
    for path, info in sorted(manifest["files"].items()):
        if info["rows"]:
            fmt, name = path.split("/", 1)
            splits.setdefault(fmt, []).append(name.removesuffix(".jsonl"))
    configs = "\n".join(
        f"- config_name: {fmt}\n  data_files:\n" + "\n".join(
            f"  - split: {split}\n    path: {fmt}/{split}.jsonl" for split in names)
        for fmt, names in splits.items()) or "[]"
    counts = manifest["counts"]
    agreement_rows = [(a.get("label", dim), a.get("level", ""), a.get("alpha"),
                       a.get("n_items"), a.get("n_disagreements_open"),
                       a.get("n_adjudicated"))
                      for dim, a in sorted(agreement.get("dimensions", {}).items())]
    return f"""---
configs:
{configs}
---
# Reviewed replies for retraining: export #{manifest["export_id"]}

Approved replies from the Psy-LLM console, each written or approved by a named
professional, in TRL's conversational formats: `sft` (messages), `dpo` (prompt, chosen,
rejected) and `kto` (prompt, completion, label). Created {manifest["created_at"]} by
{manifest["requested_by"]} from code {manifest["code_version"]}.

Questions whose client asked for a reply written without AI are never exported: they
chose no AI, so neither their words nor the reply to them train a model (counted below
as "{HUMAN_ONLY_LEFT_OUT}").

Train and validation are split by question ({100 - manifest["validation_percent"]}/
{manifest["validation_percent"]}), the same in every export.

## Counts

- Reviews considered: {counts["reviews_seen"]}; exported: {counts["reviews_exported"]}
  (train {stats.by_split.get("train", 0)}, validation {stats.by_split.get("validation", 0)}).
- Dates: {counts["date_range"][0]} to {counts["date_range"][1]}.

{_table(sorted(stats.rows.items()), ("file", "rows"))}

Left out:

{_table(sorted(stats.skipped.items()), ("why", "reviews"))}

By risk level: {_inline(stats.by_risk)}. By model version: {_inline(stats.by_model)}.

## Filters

```json
{_json(manifest["filters"])}
```

## Rubric

Mean rating per dimension over the exported reviews (1 to 5; yes/no as the share of yes):

{_table(sorted(stats.rubric_means().items()), ("dimension", "mean"))}

## Agreement between annotators

Krippendorff's alpha per dimension (ordinal for ratings, nominal for yes/no) over the
replies annotated twice; adjudicated values are what the files hold.

{_table(agreement_rows, ("dimension", "scale", "alpha", "items", "open disagreements",
                         "adjudicated"))}

{agreement.get("n_doubly_annotated", 0)} replies were annotated twice. Compared:
{agreement.get("compared", "")}.

## Personal data

Names, e-mail addresses, phone numbers, postal addresses, dates of birth, ID numbers and
URLs in client and counsellor text were replaced by typed placeholders. Found and
replaced:

{_table(sorted(pii_found.items()), ("type", "replaced"))}

## Files

{_table([(p, f["rows"], f["sha256"]) for p, f in manifest["files"].items()],
        ("file", "rows", "sha256"))}
"""


def _inline(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, sort_keys=True, default=str)
