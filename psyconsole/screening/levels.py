"""The risk levels, least to most urgent: the one place their order is defined."""

from __future__ import annotations

LEVELS = ("none", "low", "moderate", "high", "imminent")
RANK = {level: i for i, level in enumerate(LEVELS)}

PRIORITY = {"imminent": 100, "high": 80, "moderate": 50, "low": 20, "none": 10}


def highest(*levels: str) -> str:
    return max(levels, key=RANK.__getitem__)


def at_least(level: str, floor: str) -> bool:
    return RANK[level] >= RANK[floor]
