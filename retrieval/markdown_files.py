"""Reading corpus articles: Markdown files with YAML front matter (no database)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

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
    try:
        _, front, body = raw.split("---", 2)
        meta = yaml.safe_load(front) or {}
    except (ValueError, yaml.YAMLError) as exc:
        raise CorpusError(f"{path.name}: unreadable front matter ({exc})") from exc
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise CorpusError(f"{path.name}: front matter lacks {', '.join(missing)}")
    return ArticleFile(meta=meta, body=body.strip() + "\n", path=path)
