"""Keeping evaluation questions out of training data.

A question whose words largely repeat a question of an evaluation set (`fixtures/eval/`,
and the screener's held-out `fixtures/screening/eval.jsonl`) is left out of every export,
so that a model trained on an export is never scored on what it was trained on.

Near-duplicate means: at least NEAR_DUPLICATE of the evaluation question's word trigrams
occur in the exported question, and at least MIN_SHARED of them. Measured against the
evaluation question (containment, not Jaccard), so that a client who pastes an evaluation
question into a longer message is caught, while a short everyday question ("I can't sleep
before exams") is not taken for a copy of every longer one that contains its words. An
inverted index from trigram to evaluation question keeps the check at a few microseconds
per exported question.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from retrieval.jsonl import read_jsonl

NEAR_DUPLICATE = 0.5
MIN_SHARED = 3
_WORD = re.compile(r"\w+")


def _trigrams(text: str) -> set[str]:
    words = _WORD.findall(text.lower())
    if len(words) < 3:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + 3]) for i in range(len(words) - 2)}


def evaluation_files() -> list[Path]:
    root = Path(settings.BASE_DIR) / "fixtures"
    return [*sorted((root / "eval").glob("*.jsonl")), root / "screening" / "eval.jsonl"]


def _question_text(record: dict[str, object]) -> str:
    for key in ("question", "text"):
        value = record.get(key)
        if isinstance(value, str):
            return value
    return ""


class EvaluationIndex:
    def __init__(self, texts: list[str]) -> None:
        self._grams = [_trigrams(t) for t in texts]
        self._by_gram: dict[str, list[int]] = defaultdict(list)
        for i, grams in enumerate(self._grams):
            for gram in grams:
                self._by_gram[gram].append(i)

    def __len__(self) -> int:
        return len(self._grams)

    def is_near_duplicate(self, text: str) -> bool:
        grams = _trigrams(text)
        if not grams:
            return False
        shared = Counter(i for gram in grams for i in self._by_gram.get(gram, ()))
        return any(count >= MIN_SHARED and count / len(self._grams[i]) >= NEAR_DUPLICATE
                   for i, count in shared.items())


@lru_cache(maxsize=1)
def evaluation_index() -> EvaluationIndex:
    texts = [_question_text(record) for path in evaluation_files() if path.exists()
             for _, record in read_jsonl(path)]
    return EvaluationIndex([t for t in texts if t.strip()])
