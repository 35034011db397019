"""The console's HTML pages: sign-in, the queue, a question, actions and the audit page."""

from __future__ import annotations

import pytest

from psyconsole.questions.models import Review, Status
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db


def test_the_console_requires_a_login(client):
    response = client.get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_accounts_without_a_role_are_forbidden(client, outsider):
    client.force_login(outsider)
    assert client.get("/console/").status_code == 403


def test_a_counsellor_signs_in_and_sees_the_queue(client, counsellor):
    make_drafted_question("I keep thinking about suicide")
    response = client.post("/accounts/login/", {
        "username": "casey", "password": "correct horse battery staple"})
    assert response.status_code == 302
    page = client.get("/console/").content.decode()
    assert "I keep thinking about suicide" in page
    assert "badge risk-high" in page


def test_the_queue_rows_partial_filters_by_risk(client, counsellor):
    make_drafted_question("I keep thinking about suicide")
    make_drafted_question("I'm a bit stressed")
    client.force_login(counsellor)
    page = client.get("/console/queue/rows/", {"risk": "low"}).content.decode()
    assert "stressed" in page and "suicide" not in page


def test_claim_edit_and_approve_through_the_page(client, counsellor):
    question = make_drafted_question()
    client.force_login(counsellor)
    page = client.get(f"/console/questions/{question.pk}/").content.decode()
    assert "A draft reply [1]." in page and "Sleep" in page  # the draft and its source
    client.post(f"/console/questions/{question.pk}/claim/")
    page = client.get(f"/console/questions/{question.pk}/").content.decode()
    assert "Approve and send" in page
    client.post(f"/console/questions/{question.pk}/save/", {"text": "Edited reply."})
    response = client.post(f"/console/questions/{question.pk}/approve/",
                           {"text": "Final reply."})
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.status == Status.DELIVERED
    assert Review.objects.get().final_text == "Final reply."


def test_a_refused_action_is_explained_not_applied(client, counsellor):
    question = make_drafted_question()
    client.force_login(counsellor)
    response = client.post(f"/console/questions/{question.pk}/approve/", {"text": "x"},
                           follow=True)
    assert "only a question you have claimed" in response.content.decode()
    question.refresh_from_db()
    assert question.status == Status.DRAFTED


def test_actions_need_post(client, counsellor):
    question = make_drafted_question()
    client.force_login(counsellor)
    assert client.get(f"/console/questions/{question.pk}/claim/").status_code == 405


def test_unknown_actions_are_404(client, counsellor):
    question = make_drafted_question()
    client.force_login(counsellor)
    assert client.post(f"/console/questions/{question.pk}/delete/").status_code == 404


def test_only_supervisors_reach_the_audit_page(client, counsellor, supervisor):
    question = make_drafted_question()
    from psyconsole.questions.services import review

    review.do_claim(question, counsellor)
    review = review.do_approve(question, counsellor, "A reply.")
    client.force_login(counsellor)
    assert client.get("/console/audit/").status_code == 403
    client.force_login(supervisor)
    page = client.get("/console/audit/").content.decode()
    assert f"Question #{question.pk}" in page
    assert "+A reply." in page  # the diff from the draft
    client.post(f"/console/reviews/{review.pk}/audit/", {"note": "Looks right"})
    review.refresh_from_db()
    assert review.audited_by == supervisor
