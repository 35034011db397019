"""The keyword half of hybrid retrieval: BM25 over chunk text, headings and titles."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from rank_bm25 import BM25Okapi

from retrieval.models import Chunk

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset("""
a about after again all also am an and any are as at be because been before being but by
can could did do does doing don for from had has have having he her here him his how i
if in into is it its just me more most my no not now of off on once only or other our
out over own same she should so some such than that the their them then there these they
this those through to too under until up very was we were what when where which while
who why will with would you your yours im ive dont cant its really like get got feel
feeling know
""".split())  # noqa: SIM905


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "ies", "es", "s", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def tokenize(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


@dataclass
class KeywordIndex:
    chunk_ids: np.ndarray
    topics: list[frozenset[str]]
    bm25: BM25Okapi

    @classmethod
    def from_database(cls) -> KeywordIndex:
        rows = list(Chunk.objects.select_related("article").order_by("id")
                    .values_list("id", "heading", "text", "article__title", "article__topics"))
        documents = [tokenize(f"{title} {heading} {text}") or ["_"]
                     for _, heading, text, title, _ in rows]
        return cls(
            chunk_ids=np.array([r[0] for r in rows], dtype="int64"),
            topics=[frozenset(r[4] or []) for r in rows],
            bm25=BM25Okapi(documents or [["_"]]),
        )

    def search(self, text: str, limit: int, allowed: set[int] | None = None
               ) -> list[tuple[int, float]]:
        tokens = tokenize(text)
        if not tokens or not len(self.chunk_ids):
            return []
        scores = self.bm25.get_scores(tokens)
        order = np.argsort(-scores)
        hits = []
        for i in order:
            if scores[i] <= 0:
                break
            chunk_id = int(self.chunk_ids[i])
            if allowed is None or chunk_id in allowed:
                hits.append((chunk_id, float(scores[i])))
                if len(hits) == limit:
                    break
        return hits

    def ids_with_topic(self, topic: str) -> set[int]:
        return {int(i) for i, topics in zip(self.chunk_ids, self.topics, strict=True)
                if topic in topics}
