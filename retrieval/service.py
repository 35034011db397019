"""Retrieval: the top-k passages for a text, with scores and article provenance.

Dense search (MiniLM + FAISS) is fused with a BM25 keyword ranking by weighted
reciprocal-rank fusion; `PSY_RETRIEVAL_KEYWORD_WEIGHT=0` gives dense search alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np
from django.conf import settings

from retrieval.embeddings import embed
from retrieval.index import LoadedIndex, holder
from retrieval.keywords import KeywordIndex
from retrieval.models import Chunk

RRF_K = 60


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    score: float
    article_slug: str
    article_title: str
    url: str
    heading: str
    text: str
    start_offset: int
    end_offset: int
    keyword_score: float = 0.0
    source: str = ""
    quality_tier: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class _KeywordCache:
    """One keyword index per live FAISS build, rebuilt when the build changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._for: Path | None = None
        self._index: KeywordIndex | None = None

    def get(self, loaded: LoadedIndex) -> KeywordIndex:
        with self._lock:
            if self._index is None or self._for != loaded.build_dir:
                self._index = KeywordIndex.from_database()
                self._for = loaded.build_dir
            return self._index


keywords = _KeywordCache()


def _dense(loaded: LoadedIndex, vector: np.ndarray, limit: int,
           allowed: set[int] | None) -> list[tuple[int, float]]:
    params = None
    if allowed is not None:
        if not allowed:
            return []
        selector = faiss.IDSelectorBatch(np.array(sorted(allowed), dtype="int64"))
        params = (faiss.SearchParametersHNSW(sel=selector)
                  if loaded.manifest["index_type"] == "hnsw"
                  else faiss.SearchParameters(sel=selector))
    fetch = limit + len(loaded.deleted_ids)
    scores, ids = loaded.index.search(vector, fetch, params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True)
            if i != -1 and int(i) not in loaded.deleted_ids][:limit]


def chunk_ids_for_articles(slugs: Iterable[str]) -> set[int]:
    """The ids of every chunk of the articles with these slugs."""
    return set(Chunk.objects.filter(article__slug__in=list(slugs)).values_list("pk", flat=True))


def search(text: str, k: int | None = None, *, topic: str | None = None,
           keyword_weight: float | None = None,
           articles: Iterable[str] | None = None,
           max_per_article: int | None = None) -> list[Passage]:
    """The top-k passages for `text`. `topic` keeps chunks of articles on that topic;
    `articles` keeps only chunks of the articles with those slugs (both may be given).
    At most `max_per_article` passages come from one article (default
    PSY_RETRIEVAL_MAX_PER_ARTICLE; 0 = no limit): the next best article's passage takes
    the place of another chunk of one already chosen."""
    k = k or settings.RETRIEVAL_TOP_K
    per_article = (settings.RETRIEVAL_MAX_PER_ARTICLE if max_per_article is None
                   else max_per_article)
    weight = settings.RETRIEVAL_KEYWORD_WEIGHT if keyword_weight is None else keyword_weight
    loaded = holder.get(settings.INDEX_DIR)
    pool = max(k * 5, 30)
    keyword_index = keywords.get(loaded)
    allowed = keyword_index.ids_with_topic(topic) if topic else None
    if articles is not None:
        in_articles = chunk_ids_for_articles(articles)
        allowed = in_articles if allowed is None else allowed & in_articles

    dense = _dense(loaded, embed([text]), pool, allowed)
    lexical = keyword_index.search(text, pool, allowed) if weight > 0 else []
    dense_scores = dict(dense)
    keyword_scores = dict(lexical)
    fused: dict[int, float] = {}
    for rank, (chunk_id, _) in enumerate(dense):
        fused[chunk_id] = fused.get(chunk_id, 0.0) + (1 - weight) / (RRF_K + rank)
    for rank, (chunk_id, _) in enumerate(lexical):
        fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (RRF_K + rank)
    ranked = sorted(fused, key=fused.__getitem__, reverse=True)
    chunks = Chunk.objects.select_related("article").in_bulk(
        ranked if per_article else ranked[:k])
    best: list[int] = []
    taken: dict[int, int] = {}
    for chunk_id in ranked:
        chunk = chunks.get(chunk_id)
        if chunk is None:
            continue
        if per_article and taken.get(chunk.article_id, 0) >= per_article:
            continue
        taken[chunk.article_id] = taken.get(chunk.article_id, 0) + 1
        best.append(chunk_id)
        if len(best) == k:
            break
    return [
        Passage(
            chunk_id=i, score=round(dense_scores.get(i, 0.0), 4),
            keyword_score=round(keyword_scores.get(i, 0.0), 4),
            article_slug=c.article.slug, article_title=c.article.title, url=c.article.url,
            heading=c.heading, text=c.text, start_offset=c.start_offset,
            end_offset=c.end_offset, source=c.article.source,
            quality_tier=c.article.quality_tier,
        )
        for i in best
        if (c := chunks.get(i)) is not None
    ]
