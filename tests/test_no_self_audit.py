"""No one audits their own reply: the supervisor who approved a reply (or wrote part of
it) cannot mark it audited; another supervisor can."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions import roles
from psyconsole.questions.models import Review
from psyconsole.questions.services import review as review_service
from tests.factories import JsonClient, make_drafted_question, make_user

pytestmark = pytest.mark.django_db


def _client_for(user: Any) -> JsonClient:
    client = JsonClient()
    client.force_login(user)
    return client


def _approved_by(user: Any) -> Review:
    question = review_service.do_claim(make_drafted_question(), user)
    return review_service.do_approve(question, user, "A reply.")


def test_the_approver_cannot_audit_their_reply_through_the_api(supervisor):
    review = _approved_by(supervisor)
    response = _client_for(supervisor).post_json(f"/api/v1/console/reviews/{review.pk}/audit",
                                                 {"note": "Looks fine to me"})
    assert response.status_code == 403
    assert "own reply" in response.json()["detail"]
    review.refresh_from_db()
    assert review.audited_at is None
    assert not review.question.audit_events.filter(action="audit").exists()
    other = make_user("morgan", roles.SUPERVISOR)
    response = _client_for(other).post_json(f"/api/v1/console/reviews/{review.pk}/audit",
                                            {"note": "Checked"})
    assert response.status_code == 200
    assert response.json()["audited_by"] == "Morgan"


def test_a_supervisor_who_edited_the_reply_cannot_audit_it(supervisor, counsellor):
    question = review_service.do_claim(make_drafted_question(), supervisor)
    review_service.do_save_edit(question, supervisor, "The supervisor's wording.")
    review_service.do_release(question, supervisor)
    review_service.do_claim(question, counsellor)
    review = review_service.do_approve(question, counsellor)
    response = _client_for(supervisor).post_json(f"/api/v1/console/reviews/{review.pk}/audit",
                                                 {})
    assert response.status_code == 403


def test_the_audit_page_does_not_offer_it(client, supervisor):
    review = _approved_by(supervisor)
    client.force_login(supervisor)
    page = client.get("/console/audit/").content.decode()
    assert "You approved this reply" in page
    assert f'action="/console/reviews/{review.pk}/audit/"' not in page
    response = client.post(f"/console/reviews/{review.pk}/audit/", {"note": "ok"},
                           follow=True)
    assert "own reply" in response.content.decode()
    review.refresh_from_db()
    assert review.audited_at is None
