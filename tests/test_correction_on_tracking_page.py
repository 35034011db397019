"""A correction reaches the client: their tracking page shows it under the original
reply, labelled and dated, and so does the public API; the original reply and the
question's status stay as they were, and an erasure removes the correction's text."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions.models import Correction, Status
from psyconsole.questions.services.erasure import do_erase_by_client
from psyconsole.questions.services.supervision import do_audit_outcome
from tests.factories import make_approved_review

pytestmark = pytest.mark.django_db

ORIGINAL = "Try a wind-down routine before bed."
CORRECTION = "A follow-up: a routine helps most when bedtime is the same every night."


def test_the_tracking_page_shows_the_correction_under_the_original(
        client: Any, counsellor: Any, supervisor: Any) -> None:
    review = make_approved_review(counsellor, ORIGINAL)
    url = f"/track/{review.question.tracking_code}/"
    assert "Correction from our service" not in client.get(url).content.decode()
    before = client.get(f"/api/v1/questions/{review.question.tracking_code}").json()
    assert before["correction"] is None

    do_audit_outcome(review, supervisor, "needs_correction", correction=CORRECTION)
    page = client.get(url).content.decode()
    assert ORIGINAL in page and CORRECTION in page
    assert page.index(ORIGINAL) < page.index("Correction from our service") < page.index(
        CORRECTION)
    correction = Correction.objects.get()
    assert f"Sent on {correction.approved_at:%-d %B %Y}" in page
    assert "Replied" in page

    body = client.get(f"/api/v1/questions/{review.question.tracking_code}").json()
    assert body["reply"]["text"] == ORIGINAL
    assert body["correction"]["text"] == CORRECTION
    assert body["correction"]["label"] == "Correction from our service"
    assert body["correction"]["corrected_at"]
    review.refresh_from_db()
    assert review.final_text == ORIGINAL and review.question.status == Status.DELIVERED


def test_an_erasure_takes_the_correction_too(client: Any, counsellor: Any,
                                             supervisor: Any) -> None:
    review = make_approved_review(counsellor, ORIGINAL)
    do_audit_outcome(review, supervisor, "needs_correction", correction=CORRECTION)
    do_erase_by_client(review.question)
    assert Correction.objects.get().text == "[erased]"
    page = client.get(f"/track/{review.question.tracking_code}/").content.decode()
    assert CORRECTION not in page and "Correction from our service" not in page
