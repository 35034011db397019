"""`seed_demo` seeds reviewed, annotated replies through the real path, so that an
export can be tried at once."""

from __future__ import annotations

import pytest

from psyconsole.exports import service
from psyconsole.exports.demo import DEMO_REVIEWS, seed_reviewed_replies
from psyconsole.questions import roles
from psyconsole.questions.models import Annotation, AuditEvent, Review, Status
from retrieval.jsonl import read_jsonl
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_every_demo_review_becomes_an_approved_annotated_reply(
        settings, tmp_path, corpus_index, counsellor, supervisor):
    settings.EXPORT_DIR = tmp_path / "exports"
    items = list(read_jsonl(DEMO_REVIEWS))
    assert len(items) >= 30
    assert seed_reviewed_replies(counsellor, supervisor) == len(items)
    reviews = Review.objects.filter(decision=Review.Decision.APPROVED,
                                    question__status=Status.DELIVERED)
    assert reviews.count() == len(items)
    assert Annotation.objects.filter(review__in=reviews).count() == len(items)
    assert reviews.filter(audited_at__isnull=False).exists()
    draft = reviews.first().draft
    assert draft.prompt[-1]["role"] == "user" and "<client_message>" in draft.prompt[-1][
        "content"]
    assert AuditEvent.objects.filter(action="approve").count() == len(items)

    admin = make_user("ada", roles.ADMIN)
    export = service.do_run_export(service.do_request_export(
        admin, service.ExportFilters(), queue=False).pk)
    counts = export.manifest["counts"]
    assert counts["reviews_exported"] == len(items)
    assert counts["rows"]["sft/train.jsonl"] + counts["rows"].get(
        "sft/validation.jsonl", 0) == len(items)
    assert sum(v for k, v in counts["rows"].items() if k.startswith("dpo/")) >= 20
