"""Erasing on request is a supervisor's act: a counsellor is refused on the API and the
question page, and is offered no erase button."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions.models import AuditEvent, Status
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db

Q = "/api/v1/console/questions"


def test_the_api_refuses_a_counsellor(staff_api: Any) -> None:
    question = make_drafted_question()
    response = staff_api.post_json(f"{Q}/{question.pk}/erase", {"reason": "asked by phone"})
    assert response.status_code == 403
    question.refresh_from_db()
    assert question.status == Status.DRAFTED
    assert not AuditEvent.objects.filter(action="erase").exists()


def test_the_page_refuses_a_counsellor(counsellor: Any, client: Any) -> None:
    question = make_drafted_question()
    client.force_login(counsellor)
    assert "Erase this question" not in client.get(
        f"/console/questions/{question.pk}/").content.decode()
    client.post(f"/console/questions/{question.pk}/erase/", {"reason": "asked by phone"})
    question.refresh_from_db()
    assert question.status == Status.DRAFTED and question.text != "[erased]"


def test_anonymous_callers_cannot_use_the_console_erase(api: Any) -> None:
    question = make_drafted_question()
    assert api.post_json(f"{Q}/{question.pk}/erase", {"reason": "x"}).status_code == 401
    question.refresh_from_db()
    assert question.status == Status.DRAFTED
