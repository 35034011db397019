"""Screening metrics: confusion matrix, per-level recall and precision, crisis recall,
ideation recall and the false-alarm rate."""

from __future__ import annotations

from tqdm import tqdm

from psyconsole.screening.data import Labelled
from psyconsole.screening.levels import LEVELS, RANK
from psyconsole.screening.service import screen


def evaluate(rows: list[Labelled], progress: bool = True) -> dict[str, object]:
    matrix = {truth: dict.fromkeys(LEVELS, 0) for truth in LEVELS}
    misses = []
    for row in tqdm(rows, desc="Screening", disable=not progress):
        predicted = screen(row.text).risk_level
        matrix[row.risk_level][predicted] += 1
        if RANK[row.risk_level] >= RANK["high"] and RANK[predicted] < RANK["high"]:
            misses.append({"id": row.id, "truth": row.risk_level, "predicted": predicted})

    def share(truths: set[str], predicted: set[str]) -> float:
        total = sum(matrix[t][p] for t in truths for p in LEVELS)
        hit = sum(matrix[t][p] for t in truths for p in predicted)
        return round(hit / total, 4) if total else 0.0

    per_level = {}
    for level in LEVELS:
        predicted_as = sum(matrix[t][level] for t in LEVELS)
        actual = sum(matrix[level].values())
        per_level[level] = {
            "recall": round(matrix[level][level] / actual, 4) if actual else 0.0,
            "precision": round(matrix[level][level] / predicted_as, 4) if predicted_as else 0.0,
            "count": actual,
        }
    return {
        "messages": len(rows),
        "confusion": matrix,
        "per_level": per_level,
        "crisis_recall": share({"high", "imminent"}, {"high", "imminent"}),
        "ideation_recall": share({"moderate", "high", "imminent"},
                                 {"moderate", "high", "imminent"}),
        "false_alarm_rate": share({"none", "low"}, {"high", "imminent"}),
        "missed_crises": misses,
    }
