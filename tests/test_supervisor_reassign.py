"""A supervisor takes a claim back (release) or gives it to a named counsellor
(reassign), with a reason in the audit trail; nobody else can, and the counsellor it goes
to is held to the claim cap."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions.models import Question, Status
from psyconsole.questions.services import review
from tests.factories import JsonClient, make_drafted_question

pytestmark = pytest.mark.django_db

Q = "/api/v1/console/questions"


def _client_for(user: Any) -> JsonClient:
    client = JsonClient()
    client.force_login(user)
    return client


@pytest.fixture
def claimed(counsellor: Any) -> Question:
    question = make_drafted_question()
    return review.do_claim(question, counsellor)


def test_a_supervisor_reassigns_a_claim_through_the_api(claimed, counsellor, other_counsellor,
                                                        supervisor):
    boss = _client_for(supervisor)
    response = boss.post_json(f"{Q}/{claimed.pk}/reassign",
                              {"to": "robin", "reason": "Casey's shift has ended"})
    assert response.status_code == 200, response.content
    assert response.json()["claimed_by"] == "Robin"
    event = claimed.audit_events.last()
    assert (event.action, event.actor, event.reason) == (
        "reassign", supervisor, "Casey's shift has ended")
    assert event.data == {"from": "casey", "to": "robin"}
    # The claim is Robin's now: Robin can edit, Casey cannot.
    assert _client_for(other_counsellor).post_json(
        f"{Q}/{claimed.pk}/edits", {"text": "Robin's reply"}).status_code == 201
    assert _client_for(counsellor).post_json(
        f"{Q}/{claimed.pk}/edits", {"text": "Casey's reply"}).status_code == 409


def test_a_supervisor_releases_anyones_claim_through_the_api(claimed, supervisor):
    response = _client_for(supervisor).post_json(f"{Q}/{claimed.pk}/release-claim",
                                                 {"reason": "Unattended for an hour"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == Status.DRAFTED
    assert response.json()["claimed_by"] is None
    event = claimed.audit_events.last()
    assert (event.action, event.actor, event.reason, event.data["holder"]) == (
        "supervisor_release", supervisor, "Unattended for an hour", "casey")


def test_counsellors_cannot_release_or_reassign_anothers_claim(claimed, other_counsellor):
    robin = _client_for(other_counsellor)
    assert robin.post_json(f"{Q}/{claimed.pk}/reassign",
                           {"to": "robin", "reason": "Mine now"}).status_code == 403
    assert robin.post_json(f"{Q}/{claimed.pk}/release-claim",
                           {"reason": "Mine now"}).status_code == 403
    claimed.refresh_from_db()
    assert claimed.claimed_by.username == "casey"


def test_a_reason_and_a_console_user_are_required(claimed, supervisor, outsider):
    boss = _client_for(supervisor)
    assert boss.post_json(f"{Q}/{claimed.pk}/reassign",
                          {"to": "robin", "reason": " "}).status_code == 422
    assert boss.post_json(f"{Q}/{claimed.pk}/reassign",
                          {"to": "olly", "reason": "Not a counsellor"}).status_code == 422
    assert boss.post_json(f"{Q}/{claimed.pk}/release-claim", {"reason": ""}).status_code == 422
    claimed.refresh_from_db()
    assert claimed.claimed_by.username == "casey"


def test_only_a_claim_can_be_released_or_reassigned(drafted_question, supervisor,
                                                    other_counsellor):
    boss = _client_for(supervisor)
    assert boss.post_json(f"{Q}/{drafted_question.pk}/reassign",
                          {"to": "robin", "reason": "Take this one"}).status_code == 409
    assert boss.post_json(f"{Q}/{drafted_question.pk}/release-claim",
                          {"reason": "Nothing to release"}).status_code == 409


def test_a_reassignment_respects_the_cap(claimed, supervisor, other_counsellor, settings):
    settings.MAX_CLAIMS_PER_COUNSELLOR = 1
    review.do_claim(make_drafted_question("Robin's own question"), other_counsellor)
    response = _client_for(supervisor).post_json(
        f"{Q}/{claimed.pk}/reassign", {"to": "robin", "reason": "Casey is off"})
    assert response.status_code == 409
    assert "1 claim" in response.json()["detail"]
    claimed.refresh_from_db()
    assert claimed.claimed_by.username == "casey"


def test_the_question_page_offers_it_to_supervisors_only(client, claimed, supervisor,
                                                         other_counsellor):
    client.force_login(other_counsellor)
    page = client.get(f"/console/questions/{claimed.pk}/").content.decode()
    assert "Reassign" not in page
    client.force_login(supervisor)
    page = client.get(f"/console/questions/{claimed.pk}/").content.decode()
    assert "Reassign" in page and 'value="robin"' in page
    response = client.post(f"/console/questions/{claimed.pk}/reassign/",
                           {"to": "robin", "reason": "Casey's shift has ended"}, follow=True)
    assert "reassigned" in response.content.decode()
    claimed.refresh_from_db()
    assert claimed.claimed_by == other_counsellor
    response = client.post(f"/console/questions/{claimed.pk}/release-claim/",
                           {"reason": "Back to the queue"}, follow=True)
    assert "released" in response.content.decode()
    claimed.refresh_from_db()
    assert (claimed.status, claimed.claimed_by) == (Status.DRAFTED, None)
    # A counsellor posting the same form is refused, with the reason on the page.
    review.do_claim(claimed, other_counsellor)
    client.force_login(other_counsellor)
    response = client.post(f"/console/questions/{claimed.pk}/release-claim/",
                           {"reason": "Trying"}, follow=True)
    assert "permission" in response.content.decode()
    claimed.refresh_from_db()
    assert claimed.claimed_by == other_counsellor
