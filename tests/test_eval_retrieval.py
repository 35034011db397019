"""Retrieval quality on the held-out set, through the real command."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from retrieval.corpus import load_directory
from retrieval.index import build_index
from tests.factories import ROOT

pytestmark = pytest.mark.django_db


def test_the_full_corpus_meets_the_retrieval_targets(settings, tmp_path):
    settings.INDEX_DIR = tmp_path / "index"
    load_directory(ROOT / "fixtures" / "articles")
    build_index(settings.INDEX_DIR, progress=False)
    out = io.StringIO()
    call_command("eval_retrieval", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["questions"] >= 150
    assert report["recall_at_5"] >= 0.90, report["recall_at_5"]
    assert report["mrr_at_10"] >= 0.75, report["mrr_at_10"]


def test_it_scores_a_small_set_exactly(corpus_index, tmp_path):
    labelled = tmp_path / "set.jsonl"
    labelled.write_text("\n".join(json.dumps(row) for row in [
        {"id": "a", "question": "I can't fall asleep at night", "relevant": ["sleep-difficulties"]},
        {"id": "b", "question": "I can't fall asleep at night", "relevant": ["no-such-article"]},
    ]))
    out = io.StringIO()
    call_command("eval_retrieval", "--set", str(labelled), "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["recall_at_5"] == 0.5
    assert report["mrr_at_10"] == 0.5
    assert [m["id"] for m in report["misses"]] == ["b"]


@pytest.mark.parametrize("content", ["not json", '{"id": "x"}', ""])
def test_it_rejects_a_malformed_set(corpus_index, tmp_path, content):
    labelled = tmp_path / "set.jsonl"
    labelled.write_text(content)
    with pytest.raises(CommandError):
        call_command("eval_retrieval", "--set", str(labelled))
