"""Retrieval: the top-k passages for a question, with scores and provenance."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings

from retrieval.embeddings import embed
from retrieval.index import holder
from retrieval.models import Chunk


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

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def search(text: str, k: int | None = None) -> list[Passage]:
    k = k or settings.RETRIEVAL_TOP_K
    loaded = holder.get(settings.INDEX_DIR)
    scores, ids = loaded.index.search(embed([text]), k)
    hits = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]
    chunks = Chunk.objects.select_related("article").in_bulk([i for i, _ in hits])
    return [
        Passage(
            chunk_id=i, score=round(score, 4), article_slug=c.article.slug,
            article_title=c.article.title, url=c.article.url, heading=c.heading, text=c.text,
            start_offset=c.start_offset, end_offset=c.end_offset,
        )
        for i, score in hits
        if (c := chunks.get(i)) is not None
    ]
