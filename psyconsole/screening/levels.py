"""The risk levels, least to most urgent: the one place their order is defined, and
what "risky" and "crisis" mean."""

from __future__ import annotations

LEVELS = ("none", "low", "moderate", "high", "imminent")
RANK = {level: i for i, level in enumerate(LEVELS)}

PRIORITY = {"imminent": 100, "high": 80, "moderate": 50, "low": 20, "none": 10}

# Risky: a draft must carry the crisis resources and must not minimise.
RISKY_FLOOR = "moderate"
# Crisis: a crisis alert, the top of the queue, the crisis drafting protocol.
CRISIS_FLOOR = "high"
CRISIS_LEVELS = tuple(level for level in LEVELS if RANK[level] >= RANK[CRISIS_FLOOR])


def highest(*levels: str) -> str:
    return max(levels, key=RANK.__getitem__)


def at_least(level: str, floor: str) -> bool:
    return RANK[level] >= RANK[floor]


def is_risky(level: str) -> bool:
    return at_least(level or "none", RISKY_FLOOR)


def is_crisis(level: str) -> bool:
    return at_least(level or "none", CRISIS_FLOOR)
