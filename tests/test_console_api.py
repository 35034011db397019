"""Every console action through the JSON API, with its permissions."""

from __future__ import annotations

import pytest

from psyconsole.questions.models import AuditEvent, Review
from tests.factories import JsonClient, make_drafted_question

pytestmark = pytest.mark.django_db

Q = "/api/v1/console/questions"


def _client_for(user) -> JsonClient:
    client = JsonClient()
    client.force_login(user)
    return client


def test_anonymous_callers_get_401(api, drafted_question):
    assert api.get("/api/v1/console/queue").status_code == 401
    assert api.post(f"{Q}/{drafted_question.pk}/claim").status_code == 401


def test_users_without_a_role_get_403(outsider, drafted_question):
    client = _client_for(outsider)
    assert client.get("/api/v1/console/queue").status_code == 403
    assert client.post(f"{Q}/{drafted_question.pk}/claim").status_code == 403


def test_the_queue_lists_open_questions_most_urgent_first(staff_api):
    low = make_drafted_question("I'm a bit stressed")
    high = make_drafted_question("I keep thinking about suicide")
    ids = [row["id"] for row in staff_api.get("/api/v1/console/queue").json()]
    assert ids.index(high.pk) < ids.index(low.pk)
    rows = staff_api.get("/api/v1/console/queue", {"risk_level": "high"}).json()
    assert [r["id"] for r in rows] == [high.pk]


def test_the_queue_rejects_an_unknown_filter(staff_api):
    assert staff_api.get("/api/v1/console/queue", {"status": "bogus"}).status_code == 422


def test_a_counsellor_claims_edits_and_approves(staff_api, drafted_question, api):
    qid = drafted_question.pk
    claimed = staff_api.post(f"{Q}/{qid}/claim")
    assert claimed.status_code == 200
    assert claimed.json()["status"] == "in_review"
    assert claimed.json()["current_reply"].startswith("A draft reply")

    edit = staff_api.post_json(f"{Q}/{qid}/edits", {"text": "An edited reply."})
    assert edit.status_code == 201
    assert staff_api.get(f"{Q}/{qid}").json()["current_reply"] == "An edited reply."

    approved = staff_api.post_json(f"{Q}/{qid}/approve", {})
    assert approved.status_code == 200
    assert approved.json()["final_text"] == "An edited reply."
    assert approved.json()["reviewer"] == "Casey"

    tracked = api.get(f"/api/v1/questions/{drafted_question.tracking_code}").json()
    assert tracked["status"] == "delivered"
    assert tracked["reply"]["text"] == "An edited reply."
    assert "reviewed" in tracked["reply"]["disclosure"]
    actions = list(AuditEvent.objects.filter(question_id=qid).values_list("action", flat=True))
    assert actions[-4:] == ["claim", "edit", "approve", "deliver"]


def test_approve_can_carry_the_final_text(staff_api, drafted_question):
    staff_api.post(f"{Q}/{drafted_question.pk}/claim")
    response = staff_api.post_json(f"{Q}/{drafted_question.pk}/approve", {"text": "Final."})
    assert response.json()["final_text"] == "Final."


def test_it_refuses_to_approve_without_a_claim(staff_api, drafted_question, api):
    response = staff_api.post_json(f"{Q}/{drafted_question.pk}/approve", {})
    assert response.status_code == 409
    assert not Review.objects.exists()
    tracked = api.get(f"/api/v1/questions/{drafted_question.tracking_code}").json()
    assert tracked["reply"] is None


def test_it_refuses_to_approve_a_blank_reply(staff_api, drafted_question):
    staff_api.post(f"{Q}/{drafted_question.pk}/claim")
    response = staff_api.post_json(f"{Q}/{drafted_question.pk}/approve", {"text": "  "})
    assert response.status_code == 422
    assert not Review.objects.exists()


def test_a_second_counsellor_cannot_take_a_live_claim(staff_api, other_counsellor,
                                                      drafted_question):
    staff_api.post(f"{Q}/{drafted_question.pk}/claim")
    other = _client_for(other_counsellor)
    assert other.post(f"{Q}/{drafted_question.pk}/claim").status_code == 409
    assert other.post_json(f"{Q}/{drafted_question.pk}/edits",
                           {"text": "mine"}).status_code == 409
    assert other.post_json(f"{Q}/{drafted_question.pk}/approve", {}).status_code == 409


def test_a_lapsed_claim_can_be_taken_over(staff_api, other_counsellor, drafted_question,
                                          settings):
    settings.CLAIM_LEASE_SECONDS = -1
    staff_api.post(f"{Q}/{drafted_question.pk}/claim")
    other = _client_for(other_counsellor)
    response = other.post(f"{Q}/{drafted_question.pk}/claim")
    assert response.status_code == 200
    assert response.json()["claimed_by"] == "Robin"


def test_release_returns_the_question_to_the_queue(staff_api, drafted_question):
    staff_api.post(f"{Q}/{drafted_question.pk}/claim")
    response = staff_api.post(f"{Q}/{drafted_question.pk}/release")
    assert response.json()["status"] == "drafted"
    assert response.json()["claimed_by"] is None


def test_reject_needs_a_reason_and_closes_the_question(staff_api, drafted_question):
    staff_api.post(f"{Q}/{drafted_question.pk}/claim")
    assert staff_api.post_json(f"{Q}/{drafted_question.pk}/reject",
                               {"reason": ""}).status_code == 422
    response = staff_api.post_json(f"{Q}/{drafted_question.pk}/reject", {"reason": "Spam"})
    assert response.status_code == 200
    assert response.json()["decision"] == "rejected"


def test_escalated_questions_are_for_supervisors(staff_api, supervisor, drafted_question):
    response = staff_api.post_json(f"{Q}/{drafted_question.pk}/escalate",
                                   {"reason": "Needs a senior view"})
    assert response.status_code == 200
    assert staff_api.post(f"{Q}/{drafted_question.pk}/claim").status_code == 403
    assert _client_for(supervisor).post(f"{Q}/{drafted_question.pk}/claim").status_code == 200


def test_only_supervisors_see_contact_details_and_audit_trails(staff_api, supervisor,
                                                               api):
    body = api.post_json("/api/v1/questions", {"text": "Hi", "contact": "kim@example.org"})
    qid = body.json()["id"]
    assert staff_api.get(f"{Q}/{qid}").json()["contact"] is None
    assert staff_api.get(f"{Q}/{qid}/audit").status_code == 403
    boss = _client_for(supervisor)
    assert boss.get(f"{Q}/{qid}").json()["contact"] == "kim@example.org"
    trail = boss.get(f"{Q}/{qid}/audit").json()
    assert [e["action"] for e in trail] == ["received", "screened"]


def test_annotation_and_audit_of_an_approved_reply(staff_api, supervisor, drafted_question):
    staff_api.post(f"{Q}/{drafted_question.pk}/claim")
    review_id = staff_api.post_json(f"{Q}/{drafted_question.pk}/approve", {}).json()["id"]
    annotated = staff_api.post_json(f"/api/v1/console/reviews/{review_id}/annotations",
                                    {"helpfulness": 4, "safety": 5, "tags": ["good-steps"]})
    assert annotated.status_code == 201
    assert staff_api.post_json(f"/api/v1/console/reviews/{review_id}/annotations",
                               {"helpfulness": 9}).status_code == 422
    assert staff_api.post_json(f"/api/v1/console/reviews/{review_id}/audit",
                               {"note": "ok"}).status_code == 403
    boss = _client_for(supervisor)
    audited = boss.post_json(f"/api/v1/console/reviews/{review_id}/audit", {"note": "Fine"})
    assert audited.status_code == 200
    assert audited.json()["audited_by"] == "Sam"
    assert boss.post_json(f"/api/v1/console/reviews/{review_id}/audit",
                          {"note": "again"}).status_code == 409


@pytest.mark.parametrize("body", ["{bad json", '{"text": 5}', '{"text": ""}', "[]"])
def test_console_actions_reject_bad_bodies(staff_api, drafted_question, body):
    staff_api.post(f"{Q}/{drafted_question.pk}/claim")
    response = staff_api.post(f"{Q}/{drafted_question.pk}/edits", body,
                              content_type="application/json")
    assert 400 <= response.status_code < 500
    assert drafted_question.edits.count() == 0


def test_unknown_questions_are_404(staff_api):
    assert staff_api.get(f"{Q}/999999").status_code == 404
    assert staff_api.post(f"{Q}/999999/claim").status_code == 404


def test_a_bearer_token_signs_in_a_script(api, counsellor, drafted_question):
    bad = api.post_json("/api/v1/auth/token", {"username": "casey", "password": "wrong"})
    assert bad.status_code == 401
    token = api.post_json("/api/v1/auth/token", {
        "username": "casey", "password": "correct horse battery staple"}).json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert api.get("/api/v1/console/queue", **auth).status_code == 200
    assert api.post(f"{Q}/{drafted_question.pk}/claim", **auth).status_code == 200
    assert api.get("/api/v1/console/queue",
                   HTTP_AUTHORIZATION="Bearer not-a-token").status_code == 401


def test_clients_cannot_get_a_console_token(api, outsider):
    response = api.post_json("/api/v1/auth/token", {
        "username": "olly", "password": "correct horse battery staple"})
    assert response.status_code == 401


def test_http_basic_auth_is_not_accepted(api, counsellor, drafted_question):
    """Basic sent, and hashed, the password on every request; scripts use a token."""
    import base64

    good = base64.b64encode(b"casey:correct horse battery staple").decode()
    assert api.get("/api/v1/console/queue", HTTP_AUTHORIZATION=f"Basic {good}").status_code == 401
