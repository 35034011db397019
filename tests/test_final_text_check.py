"""The final reply is checked before it reaches a client: through the API and the page,
with an audited override that the supervisor's audit page flags, and bad input refused."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from psyconsole.questions.models import AuditEvent, Question, Review, Status
from psyconsole.screening.levels import PRIORITY
from tests.factories import JsonClient, make_drafted_question

pytestmark = pytest.mark.django_db

Q = "/api/v1/console/questions"
UNSAFE = ("Sertraline might help with this. You could try sertraline, and take 10 mg of "
          "diazepam at night. Text me on 07700 900123 any time.")
REASON = "The client's GP asked us to confirm this prescription in writing."


def _client_for(user) -> JsonClient:
    client = JsonClient()
    client.force_login(user)
    return client


def _claimed(client: JsonClient, text: str = "I can't sleep before exams.",
             level: str | None = None) -> Question:
    question = make_drafted_question(text)
    if level is not None:  # test setup: pin the risk level
        Question.objects.filter(pk=question.pk).update(risk_level=level,
                                                       priority=PRIORITY[level])
    assert client.post(f"{Q}/{question.pk}/claim").status_code == 200
    question.refresh_from_db()
    return question


def test_an_unsafe_reply_is_refused_with_its_findings(staff_api):
    question = _claimed(staff_api)
    response = staff_api.post_json(f"{Q}/{question.pk}/approve", {"text": UNSAFE})
    assert response.status_code == 422
    body = response.json()
    assert "Not sent" in body["detail"]
    blocking = {f["rule"] for f in body["findings"] if f["severity"] == "block"}
    assert {"medication_advice", "dose", "unlisted_phone_number"} <= blocking
    excerpts = " ".join(f["excerpt"] for f in body["findings"])
    assert "sertraline" in excerpts.lower() and "07700 900123" in excerpts
    assert not Review.objects.exists()
    question.refresh_from_db()
    assert question.status == Status.IN_REVIEW
    blocked = AuditEvent.objects.get(question=question, action="approval_blocked")
    assert {f["rule"] for f in blocked.data["findings"]} == blocking
    tracked = staff_api.get(f"/api/v1/questions/{question.tracking_code}").json()
    assert tracked["reply"] is None


def test_a_safe_reply_goes_through_and_its_check_is_stored(staff_api):
    question = _claimed(staff_api)
    response = staff_api.post_json(f"{Q}/{question.pk}/approve",
                                   {"text": "Exams are hard. Try a wind-down routine [1]."})
    assert response.status_code == 200, response.content
    assert response.json()["overridden"] is False
    review = Review.objects.get(question=question)
    assert review.override_reason == "" and not review.blocking_findings


def test_an_override_with_a_reason_goes_through_audited_and_flagged(staff_api, supervisor,
                                                                    client):
    question = _claimed(staff_api)
    response = staff_api.post_json(f"{Q}/{question.pk}/approve",
                                   {"text": UNSAFE, "override_reason": REASON})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["overridden"] is True and body["override_reason"] == REASON
    assert {"medication_advice", "dose", "unlisted_phone_number"} <= {
        f["rule"] for f in body["findings"]}
    question.refresh_from_db()
    assert question.status == Status.DELIVERED
    event = AuditEvent.objects.get(question=question, action="guardrail_override")
    assert event.reason == REASON and event.actor_label == "casey"
    assert {f["rule"] for f in event.data["findings"]} >= {"dose", "unlisted_phone_number"}

    client.force_login(supervisor)
    page = client.get("/console/audit/").content.decode()
    assert "Approved over blocking checks" in page and REASON.replace("'", "&#x27;") in page
    assert "07700 900123" in page
    only = client.get("/console/audit/?overridden=1").content.decode()
    assert f"Question #{question.pk}" in only

    audit_api = _client_for(supervisor)
    reviews = audit_api.get("/api/v1/console/reviews").json()
    assert [(r["question_id"], r["overridden"]) for r in reviews] == [(question.pk, True)]
    assert audit_api.get("/api/v1/console/reviews", {"overridden": "false"}).json() == []
    trail = audit_api.get(f"{Q}/{question.pk}/audit").json()
    assert [e["action"] for e in trail if e["flagged"]] == ["guardrail_override"]


def test_the_audit_page_does_not_flag_an_ordinary_approval(staff_api, supervisor, client):
    question = _claimed(staff_api)
    staff_api.post_json(f"{Q}/{question.pk}/approve", {"text": "Take it one night at a time."})
    client.force_login(supervisor)
    page = client.get("/console/audit/").content.decode()
    assert f"Question #{question.pk}" in page
    assert "Approved over blocking checks" not in page


def test_missing_crisis_resources_on_a_risky_question_block(staff_api):
    question = _claimed(staff_api, "I've been feeling hopeless for weeks", level="moderate")
    response = staff_api.post_json(f"{Q}/{question.pk}/approve",
                                   {"text": "I'm sorry things feel so heavy. Take care."})
    assert response.status_code == 422
    assert "crisis_resources_missing" in {f["rule"] for f in response.json()["findings"]}
    assert not Review.objects.exists()
    with_resources = ("I'm sorry things feel so heavy. Please reach out:\n"
                      + "\n".join(settings.CRISIS_RESOURCES))
    response = staff_api.post_json(f"{Q}/{question.pk}/approve", {"text": with_resources})
    assert response.status_code == 200, response.content


def test_the_page_shows_the_findings_and_an_override_box(client, counsellor, supervisor):
    question = make_drafted_question()
    client.force_login(counsellor)
    client.post(f"/console/questions/{question.pk}/claim/")
    response = client.post(f"/console/questions/{question.pk}/approve/", {"text": UNSAFE})
    assert response.status_code == 422
    page = response.content.decode()
    assert "Not sent" in page
    assert "medication_advice" in page and "unlisted_phone_number" in page
    assert '<label for="id_override_reason">' in page and 'name="override_reason"' in page
    assert "07700 900123" in page  # the counsellor's text is kept in the editor
    assert not Review.objects.exists()

    response = client.post(f"/console/questions/{question.pk}/approve/",
                           {"text": UNSAFE, "override_reason": REASON})
    assert response.status_code == 302
    review = Review.objects.get(question=question)
    assert review.overridden and review.override_reason == REASON
    client.force_login(supervisor)
    page = client.get("/console/audit/").content.decode()
    assert "Approved over blocking checks" in page


def test_the_page_without_an_override_reason_still_refuses(client, counsellor):
    question = make_drafted_question()
    client.force_login(counsellor)
    client.post(f"/console/questions/{question.pk}/claim/")
    response = client.post(f"/console/questions/{question.pk}/approve/",
                           {"text": UNSAFE, "override_reason": ""})
    assert response.status_code == 422
    assert not Review.objects.exists()


@pytest.mark.parametrize(("payload", "field"), [
    ({"text": UNSAFE, "override_reason": ""}, "override_reason"),
    ({"text": UNSAFE, "override_reason": "   "}, "override_reason"),
    ({"text": UNSAFE, "override_reason": "ok"}, "override_reason"),
    ({"text": UNSAFE, "override_reason": "x" * 2001}, "override_reason"),
    ({"text": UNSAFE, "override_reason": 12345}, "override_reason"),
    ({"text": UNSAFE, "override_reason": ["a reason that is long enough"]}, "override_reason"),
    ({"text": UNSAFE, "override_reason": "A reason long enough \ud800"}, "override_reason"),
    ({"text": "A reply \ud800", "override_reason": REASON}, "text"),
])
def test_bad_input_on_the_new_fields_is_refused_and_nothing_written(staff_api, payload, field):
    question = _claimed(staff_api)
    events = AuditEvent.objects.count()
    response = staff_api.post_json(f"{Q}/{question.pk}/approve", json.dumps(payload))
    assert response.status_code == 422, response.content
    assert field in json.dumps(response.json()["detail"])
    assert not Review.objects.exists()
    assert AuditEvent.objects.count() == events
    question.refresh_from_db()
    assert question.status == Status.IN_REVIEW


def test_a_body_that_is_not_utf8_is_refused(staff_api):
    question = _claimed(staff_api)
    body = b'{"text": "fine", "override_reason": "\xff\xfe not utf-8 at all"}'
    response = staff_api.post(f"{Q}/{question.pk}/approve", body,
                              content_type="application/json")
    assert response.status_code == 400
    assert "UTF-8" in response.json()["detail"]
    assert not Review.objects.exists()


def test_a_form_post_that_is_not_utf8_is_refused_on_the_page(client, counsellor):
    question = make_drafted_question()
    client.force_login(counsellor)
    client.post(f"/console/questions/{question.pk}/claim/")
    events = AuditEvent.objects.count()
    response = client.post(f"/console/questions/{question.pk}/approve/",
                           b"text=Fine&override_reason=%FF%FE+a+reason+in+bad+bytes",
                           content_type="application/x-www-form-urlencoded")
    # Refused on the page itself, with a 4xx and the reply kept in the editor.
    assert response.status_code == 422
    assert not Review.objects.exists()
    assert AuditEvent.objects.count() == events
    page = response.content.decode()
    assert "not valid UTF-8" in page
    assert ">\nFine</textarea>" in page


def test_a_crisis_reply_is_checked_for_the_crisis_structure(staff_api):
    """High and imminent questions are checked with `crisis=True`: a reply that carries
    the resources but neither asks about safety nor urges help now is blocked, while the
    same text on a moderate question is not."""
    import inspect

    from inference.guardrails import check_reply

    if "crisis" not in inspect.signature(check_reply).parameters:
        pytest.skip("check_reply has no crisis structure rule yet")
    text = "Thank you for writing.\n" + "\n".join(settings.CRISIS_RESOURCES)
    moderate = _claimed(staff_api, "I've been feeling hopeless for weeks", level="moderate")
    assert staff_api.post_json(f"{Q}/{moderate.pk}/approve", {"text": text}).status_code == 200
    crisis = _claimed(staff_api, "I want to end my life tonight", level="imminent")
    response = staff_api.post_json(f"{Q}/{crisis.pk}/approve", {"text": text})
    assert response.status_code == 422
    blocking = {f["rule"] for f in response.json()["findings"] if f["severity"] == "block"}
    assert blocking and not blocking & {"crisis_resources_missing", "unlisted_phone_number"}
