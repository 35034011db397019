"""The FAISS index and the retrieval service, with the real MiniLM embedder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retrieval.corpus import CorpusError
from retrieval.index import IndexMissing, build_index, holder, update_index
from retrieval.markdown_files import parse_article
from retrieval.models import Article, Chunk
from retrieval.service import search

pytestmark = pytest.mark.django_db


def _manifest(index_dir) -> dict:
    return json.loads((index_dir / "current" / "manifest.json").read_text())


def test_it_refuses_an_article_without_front_matter(tmp_path):
    path = tmp_path / "bad.md"
    path.write_text("# Just a heading\n")
    with pytest.raises(CorpusError, match="front matter"):
        parse_article(path)


def test_it_finds_the_sleep_article_for_a_sleep_question(corpus_index):
    passages = search("I lie awake at night and can't fall asleep", k=3)
    assert len(passages) == 3
    assert passages[0].article_slug == "sleep-difficulties"
    assert passages[0].text and passages[0].url == "/corpus/sleep-difficulties/"
    assert passages[0].source and passages[0].quality_tier == "reviewed"


def test_it_finds_grief_for_an_informal_bereavement_message(corpus_index):
    passages = search("sorry if this is the wrong place. my mum passed in march and i "
                      "cant stop crying at work", k=3)
    assert passages[0].article_slug == "grief-and-loss"


def test_it_can_filter_by_topic(corpus_index):
    passages = search("I can't sleep and I feel anxious", k=5, topic="sleep")
    assert passages
    assert {p.article_slug for p in passages} == {"sleep-difficulties"}
    assert search("anything", k=5, topic="no-such-topic") == []


def test_hybrid_search_reports_keyword_scores(corpus_index):
    hybrid = search("box breathing", k=3, keyword_weight=0.5)
    dense = search("box breathing", k=3, keyword_weight=0.0)
    assert hybrid[0].keyword_score > 0
    assert all(p.keyword_score == 0 for p in dense)


def test_the_manifest_describes_the_index(corpus_index):
    manifest = _manifest(corpus_index)
    assert manifest["dimension"] == 384
    assert manifest["count"] == Chunk.objects.count()
    assert manifest["index_type"] == "flat"
    assert len(manifest["checksum"]) == 64
    assert manifest["embedding_model"].endswith("model")
    assert manifest["built_at"]


def test_an_approximate_index_is_chosen_above_the_threshold(corpus_index, settings):
    settings.INDEX_APPROX_THRESHOLD = 10
    build_index(corpus_index, progress=False)
    assert _manifest(corpus_index)["index_type"] == "hnsw"
    assert search("I lie awake at night", k=1)[0].article_slug == "sleep-difficulties"


def test_a_rebuild_swaps_in_atomically_and_readers_reload(corpus_index):
    search("sleep", k=1)
    first = holder.get(corpus_index).build_dir
    Article.objects.filter(slug="sleep-difficulties").delete()
    build_index(corpus_index, progress=False)
    assert holder.get(corpus_index).build_dir != first
    assert all(p.article_slug != "sleep-difficulties" for p in search("can't sleep", k=5))


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_chunks_are_added_and_deleted_without_a_rebuild(corpus_index, kind):
    build_index(corpus_index, kind=kind, progress=False)
    sleep_ids = list(Chunk.objects.filter(article__slug="sleep-difficulties")
                     .values_list("id", flat=True))
    manifest = update_index(corpus_index, remove=sleep_ids)
    assert manifest["count"] == Chunk.objects.count() - len(sleep_ids)
    assert all(p.chunk_id not in sleep_ids for p in search("I can't sleep", k=10))
    extra = Chunk.objects.create(article=Article.objects.get(slug="loneliness"), ordinal=999,
                                 heading="Moon", text="Howling at the full moon with wolves.",
                                 start_offset=0, end_offset=10)
    update_index(corpus_index, add=[extra.pk])
    assert search("howling wolves and the moon", k=1)[0].chunk_id == extra.pk


def test_searching_without_an_index_says_how_to_build_one(settings, tmp_path):
    settings.INDEX_DIR = tmp_path / "nothing-here"
    with pytest.raises(IndexMissing, match="build_index"):
        search("anything")


def test_the_int8_embedder_builds_and_searches_its_own_index(corpus_index, settings):
    settings.EMBEDDING_INT8 = True
    build_index(corpus_index, progress=False)
    assert _manifest(corpus_index)["embedding_model"].endswith("(int8)")
    assert search("I lie awake at night and can't fall asleep", k=1)[0].article_slug == (
        "sleep-difficulties")


def test_the_sources_cover_different_articles(corpus_index: Path, settings: Any) -> None:
    question = "Exams are next week and I can't sleep for worrying about them."
    settings.RETRIEVAL_MAX_PER_ARTICLE = 0
    unlimited = search(question, k=3)
    settings.RETRIEVAL_MAX_PER_ARTICLE = 1
    limited = search(question, k=3)
    slugs = [p.article_slug for p in limited]
    assert len({p.article_slug for p in unlimited}) < 3  # Exam Stress, three times
    assert len(limited) == 3 and len(set(slugs)) == 3
    assert limited[0].chunk_id == unlimited[0].chunk_id  # the best passage stays first
    assert len(search(question, k=3, max_per_article=2)) == 3
