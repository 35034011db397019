"""Loads the fixture article corpus (Markdown with YAML front matter) into the database."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from django.db import transaction

from retrieval.chunking import chunk_markdown
from retrieval.models import Article, Chunk

REQUIRED_KEYS = ("title", "slug", "topics", "summary", "audience", "last_reviewed")


class CorpusError(ValueError):
    pass


@dataclass(frozen=True)
class ArticleFile:
    meta: dict[str, object]
    body: str
    path: Path


def parse_article(path: Path) -> ArticleFile:
    raw = path.read_text(encoding="utf-8")
    if not raw.startswith("---"):
        raise CorpusError(f"{path.name}: no front matter")
    _, front, body = raw.split("---", 2)
    meta = yaml.safe_load(front) or {}
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise CorpusError(f"{path.name}: front matter lacks {', '.join(missing)}")
    return ArticleFile(meta=meta, body=body.strip() + "\n", path=path)


@transaction.atomic
def upsert_article(item: ArticleFile, *, url: str = "") -> tuple[Article, bool]:
    """Stores an article and re-chunks it if its text changed. Returns (article, changed)."""
    meta = item.meta
    digest = hashlib.sha256(item.body.encode()).hexdigest()
    reviewed = meta.get("last_reviewed")
    article, created = Article.objects.get_or_create(
        slug=str(meta["slug"]),
        defaults={"title": str(meta["title"]), "body": item.body, "content_hash": ""},
    )
    changed = created or article.content_hash != digest
    article.title = str(meta["title"])
    article.topics = [str(t) for t in meta.get("topics") or []]
    article.summary = str(meta.get("summary", ""))
    article.audience = str(meta.get("audience", ""))
    article.last_reviewed = reviewed if isinstance(reviewed, date) else None
    article.source = str(meta.get("source", "fixtures"))
    article.url = url or f"/corpus/{article.slug}/"
    article.body = item.body
    article.content_hash = digest
    article.save()
    if changed:
        article.chunks.all().delete()
        Chunk.objects.bulk_create(
            Chunk(article=article, ordinal=i, heading=c.heading, text=c.text,
                  start_offset=c.start, end_offset=c.end)
            for i, c in enumerate(chunk_markdown(item.body))
        )
    return article, changed


def load_directory(directory: Path) -> list[tuple[Article, bool]]:
    return [upsert_article(parse_article(p)) for p in sorted(directory.glob("*.md"))]
