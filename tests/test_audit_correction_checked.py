"""A correction after an audit is a follow-up reply to the client, checked like an
approval: one naming a dose or a phone number is refused with its findings (and the
refusal audited), an override needs a written reason and is audited and flagged on the
audit page; the question's status never changes, and no one corrects their own reply."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions.models import AuditEvent, Correction, Review, Status
from psyconsole.questions.services import review as review_service
from tests.factories import make_approved_review, make_drafted_question

pytestmark = pytest.mark.django_db

UNSAFE = "Please take 10 mg of diazepam tonight, and text me on 07700 900123."
SAFE = "A correction: please speak to your GP before changing any medication."
REASON = "The client's GP asked for this dose to be confirmed in writing."


def _audit(client: Any, review: Review, **data: str) -> Any:
    return client.post(f"/console/reviews/{review.pk}/audit/",
                       {"outcome": "needs_correction", **data})


def test_a_correction_naming_a_dose_or_a_number_is_refused(client: Any, counsellor: Any,
                                                           supervisor: Any) -> None:
    review = make_approved_review(counsellor)
    client.force_login(supervisor)
    response = _audit(client, review, correction=UNSAFE)
    assert response.status_code == 422
    page = response.content.decode()
    assert "Not sent" in page and "the correction has" in page
    assert "dose" in page and "unlisted_phone_number" in page
    assert "07700 900123" in page  # the supervisor's text is kept in the form
    assert 'name="override_reason"' in page
    assert not Correction.objects.exists()
    review.refresh_from_db()
    assert review.audited_at is None
    blocked = AuditEvent.objects.get(action="correction_blocked")
    assert {"dose", "unlisted_phone_number"} <= {f["rule"] for f in blocked.data["findings"]}
    assert "07700" not in str(blocked.data) and "07700" not in blocked.reason
    assert "diazepam" not in str(blocked.data)


def test_an_override_with_a_reason_sends_it_audited_and_flagged(
        client: Any, counsellor: Any, supervisor: Any) -> None:
    review = make_approved_review(counsellor)
    client.force_login(supervisor)
    short = _audit(client, review, correction=UNSAFE, override_reason="GP")
    assert short.status_code == 422 and "at least 10" in short.content.decode()
    response = _audit(client, review, correction=UNSAFE, override_reason=REASON)
    assert response.status_code == 302
    correction = Correction.objects.get()
    assert (correction.review, correction.author, correction.text) == (review, supervisor,
                                                                        UNSAFE)
    assert correction.overridden and correction.override_reason == REASON
    assert {"dose", "unlisted_phone_number"} <= {f["rule"] for f in
                                                 correction.blocking_findings}
    review.refresh_from_db()
    assert review.audit_outcome == Review.AuditOutcome.NEEDS_CORRECTION
    assert review.question.status == Status.DELIVERED
    override = AuditEvent.objects.get(action="guardrail_override",
                                      data__correction_id=correction.pk)
    assert override.reason == REASON and override.actor == supervisor
    assert all("excerpt" not in f for f in override.data["findings"])
    sent = AuditEvent.objects.get(action="correction")
    assert sent.data["overridden"] is True and "07700" not in str(sent.data)

    page = client.get("/console/audit/?show=overrides").content.decode()
    assert "Correction sent over blocking checks" in page
    assert REASON.replace("'", "&#x27;") in page
    view = client.get(f"/console/reviews/{review.pk}/audit/").content.decode()
    assert "Correction sent to the client" in view and "Correction sent over blocking" in view


def test_a_safe_correction_goes_through_without_an_override(client: Any, counsellor: Any,
                                                            supervisor: Any) -> None:
    review = make_approved_review(counsellor)
    client.force_login(supervisor)
    assert _audit(client, review, correction="").status_code == 422  # text is required
    assert _audit(client, review, correction=SAFE, note="Medication advice slipped in."
                  ).status_code == 302
    correction = Correction.objects.get()
    assert not correction.overridden and correction.approved_at is not None
    assert not AuditEvent.objects.filter(action="guardrail_override").exists()
    assert review.question.audit_events.filter(action="correction").count() == 1


def test_the_approver_cannot_correct_their_own_reply(client: Any, supervisor: Any) -> None:
    question = review_service.do_claim(make_drafted_question(), supervisor)
    review = review_service.do_approve(question, supervisor, "A reply.")
    client.force_login(supervisor)
    response = _audit(client, review, correction=SAFE)
    assert response.status_code == 302
    assert "own reply" in client.get("/console/audit/").content.decode()
    assert not Correction.objects.exists()
