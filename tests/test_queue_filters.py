"""The queue's status filter finds past work (approved, delivered, rejected, withdrawn),
and the first-response column says what happened, never "answered" for a question that
was only claimed or escalated."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions.models import Status
from psyconsole.questions.services import intake
from psyconsole.questions.services.review import do_approve, do_claim, do_escalate, do_reject
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db


def _rows(client: Any, **params: str) -> str:
    return client.get("/console/queue/rows/", params).content.decode()


def test_closed_statuses_are_found_by_the_filter(client: Any, counsellor: Any) -> None:
    delivered = make_drafted_question("Delivered: exams keep me awake.")
    do_claim(delivered, counsellor)
    do_approve(delivered, counsellor, "A reply about sleep and exams.")
    rejected = make_drafted_question("Rejected: spam about sleep.")
    do_claim(rejected, counsellor)
    do_reject(rejected, counsellor, "Not a question for us.")
    withdrawn = make_drafted_question("Withdrawn: I feel better now.")
    intake.do_withdraw(withdrawn)
    make_drafted_question("Still open: I worry a lot.")
    client.force_login(counsellor)

    for status, text in [(Status.DELIVERED, "Delivered:"), (Status.REJECTED, "Rejected:"),
                         (Status.WITHDRAWN, "Withdrawn:")]:
        page = _rows(client, status=status)
        assert text in page, status
        assert "Still open" not in page
        assert "No open questions" not in page
    # Nothing approved-but-undelivered: the empty row does not claim the queue is empty.
    empty = _rows(client, status=Status.APPROVED)
    assert "No questions match these filters" in empty
    # Without a filter the queue is still the open questions only.
    page = _rows(client)
    assert "Still open" in page and "Delivered:" not in page


def test_claimed_and_escalated_questions_are_not_shown_as_answered(
        client: Any, counsellor: Any) -> None:
    claimed = make_drafted_question("Claimed: I can't focus.")
    do_claim(claimed, counsellor)
    escalated = make_drafted_question("Escalated: my friend worries me.")
    do_claim(escalated, counsellor)
    do_escalate(escalated, counsellor, "Needs a senior view.")
    client.force_login(counsellor)
    for page in (_rows(client), _rows(client, status=Status.ESCALATED)):
        assert "answered" not in page
        assert "picked up after" in page
