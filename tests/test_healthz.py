"""/healthz tells anyone whether the service is up, and only staff how much is waiting."""

from __future__ import annotations

import pytest

from psyconsole.questions.services.tokens import do_issue_api_token
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db


def test_anonymous_callers_are_told_only_ok(client):
    make_drafted_question()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_signed_in_counsellor_sees_the_queue(client, counsellor):
    make_drafted_question()
    client.force_login(counsellor)
    assert client.get("/healthz").json() == {"status": "ok", "queue": 1}


def test_a_bearer_token_sees_the_queue_and_a_wrong_one_does_not(client, counsellor):
    make_drafted_question()
    token = do_issue_api_token(counsellor, 1)
    assert client.get("/healthz", HTTP_AUTHORIZATION=f"Bearer {token}").json()["queue"] == 1
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer nope").json() == {"status": "ok"}


def test_a_user_without_a_console_role_is_told_only_ok(client, outsider):
    client.force_login(outsider)
    assert client.get("/healthz").json() == {"status": "ok"}
