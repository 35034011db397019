"""Screening metrics: confusion matrix, per-level recall and precision, crisis recall,
ideation recall and the false-alarm rate, overall and for short and long messages (and
for each kind of message, where a set labels kinds), since a screener can look fine on
long messages and cry wolf on one-liners."""

from __future__ import annotations

from tqdm import tqdm

from psyconsole.screening.data import Labelled
from psyconsole.screening.levels import CRISIS_LEVELS, LEVELS, is_crisis, is_risky
from psyconsole.screening.service import screen

# A help-form one-liner: one or two sentences.
SHORT_WORDS = 25


def is_short(text: str) -> bool:
    return len(text.split()) <= SHORT_WORDS


def _share(pairs: list[tuple[str, str]], truths: set[str], predicted: set[str]
           ) -> float | None:
    total = [p for t, p in pairs if t in truths]
    return round(sum(p in predicted for p in total) / len(total), 4) if total else None


def _figures(pairs: list[tuple[str, str]]) -> dict[str, object]:
    crisis = set(CRISIS_LEVELS)
    risky = {level for level in LEVELS if is_risky(level)}
    return {
        "messages": len(pairs),
        "crisis_recall": _share(pairs, crisis, crisis),
        "ideation_recall": _share(pairs, risky, risky),
        "false_alarm_rate": _share(pairs, set(LEVELS) - risky, crisis),
    }


def evaluate(rows: list[Labelled], progress: bool = True) -> dict[str, object]:
    matrix = {truth: dict.fromkeys(LEVELS, 0) for truth in LEVELS}
    misses, alarms, pairs = [], [], []
    for row in tqdm(rows, desc="Screening", disable=not progress):
        predicted = screen(row.text).risk_level
        matrix[row.risk_level][predicted] += 1
        pairs.append((row.risk_level, predicted))
        if is_crisis(row.risk_level) and not is_crisis(predicted):
            misses.append({"id": row.id, "truth": row.risk_level, "predicted": predicted})
        if not is_risky(row.risk_level) and is_crisis(predicted):
            alarms.append({"id": row.id, "truth": row.risk_level, "predicted": predicted})

    per_level = {}
    for level in LEVELS:
        predicted_as = sum(matrix[t][level] for t in LEVELS)
        actual = sum(matrix[level].values())
        per_level[level] = {
            "recall": round(matrix[level][level] / actual, 4) if actual else 0.0,
            "precision": round(matrix[level][level] / predicted_as, 4) if predicted_as else 0.0,
            "count": actual,
        }
    overall = _figures(pairs)
    short = [pair for pair, row in zip(pairs, rows, strict=True) if is_short(row.text)]
    long = [pair for pair, row in zip(pairs, rows, strict=True) if not is_short(row.text)]
    kinds = sorted({row.kind for row in rows if row.kind})
    return {
        "messages": len(rows),
        "confusion": matrix,
        "per_level": per_level,
        "crisis_recall": overall["crisis_recall"] or 0.0,
        "ideation_recall": overall["ideation_recall"] or 0.0,
        "false_alarm_rate": overall["false_alarm_rate"] or 0.0,
        "by_length": {f"short (<= {SHORT_WORDS} words)": _figures(short),
                      "long": _figures(long)},
        "by_kind": {kind: _figures([pair for pair, row in zip(pairs, rows, strict=True)
                                    if row.kind == kind]) for kind in kinds},
        "missed_crises": misses,
        "false_alarms": alarms,
    }
