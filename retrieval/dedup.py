"""Exact and near-duplicate detection for crawled text (SimHash over word shingles)."""

from __future__ import annotations

import hashlib
import re

_WORD = re.compile(r"\w+")


def simhash(text: str, shingle: int = 3) -> int:
    """A 64-bit SimHash, as a signed integer so that it fits a database bigint."""
    words = _WORD.findall(text.lower())
    grams = [" ".join(words[i:i + shingle]) for i in range(max(1, len(words) - shingle + 1))]
    weights = [0] * 64
    for gram in grams:
        h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if h >> bit & 1 else -1
    value = sum(1 << bit for bit in range(64) if weights[bit] > 0)
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


def is_near_duplicate(a: int, b: int, max_distance: int = 3) -> bool:
    return hamming(a, b) <= max_distance
