"""Storing articles and their chunks, from fixture files or from the crawler."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.db import transaction
from tqdm import tqdm

from retrieval.chunking import TokenCounter, chunk_markdown
from retrieval.dedup import simhash
from retrieval.markdown_files import ArticleFile, CorpusError, parse_article
from retrieval.models import Article, Chunk

__all__ = ["ArticleFile", "CorpusError", "StoredArticle", "load_directory", "store_article"]


@dataclass
class StoredArticle:
    article: Article
    changed: bool
    removed_chunk_ids: list[int] = field(default_factory=list)
    added_chunk_ids: list[int] = field(default_factory=list)


def content_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).lower().encode()).hexdigest()


@transaction.atomic
def store_article(meta: dict[str, object], body: str, *, url: str, source: str,
                  quality_tier: str = Article.QualityTier.REVIEWED,
                  count_tokens: TokenCounter | None = None) -> StoredArticle:
    """Creates or updates an article by slug; re-chunks it only if its text changed."""
    digest = content_hash(body)
    reviewed = meta.get("last_reviewed")
    article, created = Article.objects.get_or_create(
        slug=str(meta["slug"]),
        defaults={"title": str(meta["title"]), "body": body, "content_hash": ""},
    )
    changed = created or article.content_hash != digest
    article.title = str(meta["title"])
    article.topics = [str(t).strip() for t in meta.get("topics") or [] if str(t).strip()]
    article.summary = str(meta.get("summary", ""))
    article.audience = str(meta.get("audience", ""))
    article.last_reviewed = reviewed if isinstance(reviewed, date) else None
    article.source = source
    article.quality_tier = quality_tier
    article.url = url
    article.body = body
    article.content_hash = digest
    article.simhash = simhash(body)
    article.save()
    stored = StoredArticle(article, changed)
    if changed:
        stored.removed_chunk_ids = list(article.chunks.values_list("id", flat=True))
        article.chunks.all().delete()
        created_chunks = Chunk.objects.bulk_create(
            Chunk(article=article, ordinal=i, heading=c.heading, text=c.text,
                  start_offset=c.start, end_offset=c.end)
            for i, c in enumerate(chunk_markdown(body, count_tokens=count_tokens))
        )
        stored.added_chunk_ids = [c.pk for c in created_chunks]
    return stored


def load_directory(directory: Path, *, progress: bool = False) -> list[StoredArticle]:
    """Loads fixture articles directly, without the crawler (tests and offline set-up)."""
    paths = sorted(directory.glob("*.md"))
    return [
        store_article(item.meta, item.body, url=f"/corpus/{item.meta['slug']}/",
                      source=str(item.meta.get("source", "fixtures")))
        for item in (parse_article(p) for p in tqdm(paths, desc="Loading articles",
                                                    disable=not progress))
    ]
