"""Audit outcomes: sound, or needs feedback, a note that the counsellor finds in their
console until they acknowledge it (audited); a note is required, and no one audits their
own reply."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions.models import AuditEvent, Feedback, Review
from tests.factories import make_approved_review

pytestmark = pytest.mark.django_db

NOTE = "Good warmth; next time name one concrete step for tonight."


def test_a_sound_outcome_is_recorded(client: Any, counsellor: Any, supervisor: Any) -> None:
    review = make_approved_review(counsellor)
    client.force_login(supervisor)
    response = client.post(f"/console/reviews/{review.pk}/audit/",
                           {"outcome": "sound", "note": "Fine."}, follow=True)
    assert "audited: sound" in response.content.decode()
    review.refresh_from_db()
    assert (review.audit_outcome, review.audited_by, review.audit_note) == (
        "sound", supervisor, "Fine.")
    event = AuditEvent.objects.get(question=review.question, action="audit")
    assert event.data == {"review_id": review.pk, "outcome": "sound"}
    assert not Feedback.objects.exists()


def test_feedback_needs_a_note(client: Any, counsellor: Any, supervisor: Any) -> None:
    review = make_approved_review(counsellor)
    client.force_login(supervisor)
    response = client.post(f"/console/reviews/{review.pk}/audit/",
                           {"outcome": "needs_feedback", "note": "  "})
    assert response.status_code == 422
    assert "note must not be empty" in response.content.decode()
    review.refresh_from_db()
    assert review.audited_at is None and not Feedback.objects.exists()
    bad = client.post(f"/console/reviews/{review.pk}/audit/", {"outcome": "fine"})
    assert bad.status_code == 422 and "outcome must be one of" in bad.content.decode()


def test_feedback_reaches_the_counsellors_console_until_acknowledged(
        client: Any, counsellor: Any, other_counsellor: Any, supervisor: Any) -> None:
    review = make_approved_review(counsellor)
    client.force_login(supervisor)
    response = client.post(f"/console/reviews/{review.pk}/audit/",
                           {"outcome": "needs_feedback", "note": NOTE})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.audit_outcome == Review.AuditOutcome.NEEDS_FEEDBACK
    feedback = Feedback.objects.get()
    assert (feedback.counsellor, feedback.supervisor, feedback.note) == (counsellor,
                                                                         supervisor, NOTE)
    assert AuditEvent.objects.get(action="feedback").data["feedback_id"] == feedback.pk

    client.force_login(other_counsellor)
    assert "Feedback from your supervisor" not in client.get("/console/").content.decode()
    refused = client.post(f"/console/feedback/{feedback.pk}/acknowledge/", follow=True)
    assert "only they can acknowledge it" in refused.content.decode()

    client.force_login(counsellor)
    queue = client.get("/console/").content.decode()
    assert "Feedback from your supervisor" in queue and "name one concrete step" in queue
    assert f"/console/feedback/{feedback.pk}/acknowledge/" in queue
    done = client.post(f"/console/feedback/{feedback.pk}/acknowledge/", follow=True)
    assert "Feedback acknowledged." in done.content.decode()
    feedback.refresh_from_db()
    assert feedback.acknowledged_at is not None
    event = AuditEvent.objects.get(action="feedback_acknowledged")
    assert event.actor == counsellor and event.data["feedback_id"] == feedback.pk
    assert "Feedback from your supervisor" not in client.get("/console/").content.decode()
    again = client.post(f"/console/feedback/{feedback.pk}/acknowledge/", follow=True)
    assert "already been acknowledged" in again.content.decode()
    # The audit view says where the feedback stands.
    client.force_login(supervisor)
    view = client.get(f"/console/reviews/{review.pk}/audit/").content.decode()
    assert "Needs feedback" in view and "acknowledged on" in view


def test_a_reply_is_audited_once(client: Any, counsellor: Any, supervisor: Any) -> None:
    review = make_approved_review(counsellor)
    client.force_login(supervisor)
    client.post(f"/console/reviews/{review.pk}/audit/", {"outcome": "sound"})
    again = client.post(f"/console/reviews/{review.pk}/audit/",
                        {"outcome": "needs_feedback", "note": NOTE}, follow=True)
    assert "already been audited" in again.content.decode()
    review.refresh_from_db()
    assert review.audit_outcome == "sound" and not Feedback.objects.exists()
