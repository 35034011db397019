"""A supervisor erases a question on a client's request, from the console API and from
the question page, with a reason; the audit event keeps the reason and counts only."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions.models import AuditEvent, Status
from tests.factories import JsonClient, make_drafted_question

pytestmark = pytest.mark.django_db

Q = "/api/v1/console/questions"
REASON = "The client asked by email on 1 December (ticket 4411)."


def _signed_in(user: Any) -> JsonClient:
    client = JsonClient()
    client.force_login(user)
    return client


def test_a_supervisor_erases_through_the_console_api(supervisor: Any) -> None:
    question = make_drafted_question("Pangolinmarker5 cannot sleep.")
    api = _signed_in(supervisor)
    response = api.post_json(f"{Q}/{question.pk}/erase", {"reason": REASON})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "erased"
    question.refresh_from_db()
    assert question.status == Status.ERASED and "Pangolinmarker5" not in question.text
    event = AuditEvent.objects.get(question=question, action="erase")
    assert (event.actor_label, event.reason, event.from_state) == ("sam", REASON, "drafted")
    assert "Pangolinmarker5" not in str(event.data)
    assert api.post_json(f"{Q}/{question.pk}/erase", {"reason": REASON}).status_code == 409


def test_a_reason_is_required(supervisor: Any) -> None:
    question = make_drafted_question()
    api = _signed_in(supervisor)
    assert api.post_json(f"{Q}/{question.pk}/erase", {"reason": ""}).status_code in (400, 422)
    assert api.post_json(f"{Q}/{question.pk}/erase", {}).status_code in (400, 422)
    question.refresh_from_db()
    assert question.status == Status.DRAFTED


def test_a_supervisor_erases_from_the_question_page(supervisor: Any, client: Any) -> None:
    question = make_drafted_question("Pangolinmarker5 cannot sleep.")
    client.force_login(supervisor)
    page = client.get(f"/console/questions/{question.pk}/").content.decode()
    assert "Erase this question" in page
    response = client.post(f"/console/questions/{question.pk}/erase/", {"reason": REASON},
                           follow=True)
    assert response.status_code == 200
    question.refresh_from_db()
    assert question.status == Status.ERASED
    page = response.content.decode()
    assert "Pangolinmarker5" not in page and "Erase this question" not in page
    assert AuditEvent.objects.filter(question=question, action="erase",
                                     reason=REASON).exists()
