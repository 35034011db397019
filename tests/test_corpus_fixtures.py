"""The written corpus and the labelled sets: complete, safe, and kept apart."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from retrieval.dedup import is_near_duplicate, simhash
from retrieval.markdown_files import parse_article
from retrieval.site import build_site
from tests.factories import ROOT

ARTICLES = sorted((ROOT / "fixtures" / "articles").glob("*.md"))
PARSED = [parse_article(p) for p in ARTICLES]
SLUGS = {a.meta["slug"] for a in PARSED}
ALLOWED_NUMBERS = {"999", "112", "911", "116 123", "988"}
CRISIS = re.compile(r"suicid|harm(ing)? yourself|self-harm|end(ing)? (your|my) life", re.I)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def test_there_are_at_least_120_articles_on_at_least_25_topics():
    assert len(PARSED) >= 120
    topics = {t for a in PARSED for t in a.meta["topics"]}
    assert len(topics) >= 25
    for required in ["anxiety", "panic", "worry", "low-mood", "stress", "burnout", "sleep",
                     "grief", "loneliness", "relationships", "self-esteem", "anger", "trauma",
                     "obsessive-thoughts", "eating", "alcohol", "drugs", "self-harm",
                     "suicidal-thoughts", "exams", "work", "parenting", "caring", "perinatal",
                     "therapy", "technique", "breathing", "grounding", "mindfulness",
                     "assertiveness"]:
        assert required in topics, required


@pytest.mark.parametrize("article", PARSED, ids=[a.meta["slug"] for a in PARSED])
def test_each_article_is_complete_and_safe(article):
    assert article.meta["slug"] == article.path.stem
    assert article.meta["summary"] and article.meta["audience"]
    body = article.body
    assert 250 <= len(body.split()) <= 900
    assert "## When to seek professional help" in body
    assert not re.search(r"\b\d+(\.\d+)?\s?(mg|milligrams?|ml|mcg)\b", body, re.I)
    assert not re.search(r"https?://|www\.", body)
    numbers = set(re.findall(r"(?<!to )\b(?:116 123|\d{3})\b", body))  # not "0 to 100"
    assert numbers <= ALLOWED_NUMBERS, numbers - ALLOWED_NUMBERS
    if CRISIS.search(body):
        assert "## If you are in immediate danger" in body
        assert "116 123" in body and "988" in body


def test_the_eval_set_is_large_labelled_and_separate_from_the_dev_set():
    evaluation = _jsonl(ROOT / "fixtures" / "eval" / "retrieval.jsonl")
    dev = _jsonl(ROOT / "fixtures" / "training" / "retrieval_dev.jsonl")
    assert len(evaluation) >= 150
    for row in evaluation + dev:
        assert row["relevant"] and set(row["relevant"]) <= SLUGS, row["id"]
    eval_hashes = [simhash(r["question"]) for r in evaluation]
    for row in dev:
        h = simhash(row["question"])
        assert not any(is_near_duplicate(h, e) for e in eval_hashes), row["id"]


def test_the_site_has_pages_a_sitemap_and_robots(tmp_path):
    count = build_site(ROOT / "fixtures" / "articles", tmp_path / "site")
    assert count == len(PARSED)
    sitemap = (tmp_path / "site" / "sitemap.xml").read_text()
    assert sitemap.count("<loc>") == count
    robots = (tmp_path / "site" / "robots.txt").read_text()
    assert "Disallow: /private/" in robots and "Sitemap:" in robots
    page = (tmp_path / "site" / "articles" / "sleep-difficulties.html").read_text()
    assert '<meta name="article-id" content="sleep-difficulties">' in page
    assert "<h2>" in page
