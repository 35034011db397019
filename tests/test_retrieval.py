"""Corpus loading, chunking and FAISS retrieval with the real MiniLM embedder."""

from __future__ import annotations

import json

import pytest

from retrieval.chunking import chunk_markdown
from retrieval.corpus import CorpusError, parse_article
from retrieval.index import IndexMissing, build_index
from retrieval.models import Article, Chunk
from retrieval.service import search

pytestmark = pytest.mark.django_db


def test_chunks_keep_their_offsets_and_headings():
    body = ("Intro line.\n\n## Breathing\n\nBreathe in for four.\n\nHold for four.\n\n"
            "## Sleep\n\nKeep a routine.\n")
    chunks = chunk_markdown(body, max_chars=30)
    assert [c.heading for c in chunks] == ["", "Breathing", "Breathing", "Sleep"]
    for chunk in chunks:
        assert body[chunk.start:chunk.end] == chunk.text


def test_it_refuses_an_article_without_front_matter(tmp_path):
    path = tmp_path / "bad.md"
    path.write_text("# Just a heading\n")
    with pytest.raises(CorpusError, match="front matter"):
        parse_article(path)


def test_it_finds_the_sleep_article_for_a_sleep_question(corpus_index):
    passages = search("I lie awake at night and can't fall asleep", k=3)
    assert len(passages) == 3
    assert passages[0].article_slug == "sleep-difficulties"
    assert passages[0].score >= passages[-1].score
    assert passages[0].text and passages[0].url == "/corpus/sleep-difficulties/"


def test_it_finds_grief_for_a_bereavement_question(corpus_index):
    passages = search("My mum died last month and I can't stop crying", k=3)
    assert passages[0].article_slug == "grief-and-loss"


def test_the_manifest_describes_the_index(corpus_index):
    manifest = json.loads((corpus_index / "current" / "manifest.json").read_text())
    assert manifest["dimension"] == 384
    assert manifest["count"] == Chunk.objects.count()
    assert len(manifest["checksum"]) == 64


def test_a_rebuild_swaps_in_atomically_and_readers_reload(corpus_index):
    search("sleep", k=1)
    first = (corpus_index / "current").resolve()
    Article.objects.filter(slug="sleep-difficulties").delete()
    build_index(corpus_index, progress=False)
    assert (corpus_index / "current").resolve() != first
    assert all(p.article_slug != "sleep-difficulties" for p in search("can't sleep", k=5))


def test_searching_without_an_index_says_how_to_build_one(settings, tmp_path):
    settings.INDEX_DIR = tmp_path / "nothing-here"
    with pytest.raises(IndexMissing, match="build_index"):
        search("anything")
