"""A client erases their question from the tracking page: a POST with CSRF and a ticked
confirmation; afterwards the page says the question was erased and shows none of it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from psyconsole.questions.models import Question, Status
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db

TEXT = "Quokkamarker31: I can't sleep before exams."


def _track(client: Any, question: Question) -> str:
    return client.get(f"/track/{question.tracking_code}/").content.decode()


def test_a_client_erases_from_the_tracking_page() -> None:
    question = make_drafted_question(TEXT)
    client = Client(enforce_csrf_checks=True)
    page = _track(client, question)
    assert "Erase my question" in page and 'name="confirm"' in page and "required" in page
    url = f"/track/{question.tracking_code}/erase/"
    assert client.post(url, {"confirm": "yes"}).status_code == 403  # no CSRF token
    token = client.cookies["csrftoken"].value

    # Without the ticked box nothing is erased.
    assert client.post(url, {"csrfmiddlewaretoken": token}).status_code == 302
    question.refresh_from_db()
    assert question.status == Status.DRAFTED and question.text == TEXT

    response = client.post(url, {"csrfmiddlewaretoken": token, "confirm": "yes"})
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.status == Status.ERASED and "Quokkamarker31" not in question.text
    page = _track(client, question)
    assert "This question was erased" in page and "Quokkamarker31" not in page
    assert "A counsellor will reply" not in page
    assert "Erase my question" not in page and "Withdraw my question" not in page
    assert client.get(url).status_code == 405


def test_erasing_twice_says_so_and_changes_nothing() -> None:
    question = make_drafted_question(TEXT)
    client = Client()
    url = f"/track/{question.tracking_code}/erase/"
    client.post(url, {"confirm": "yes"})
    events = question.audit_events.count()
    response = client.post(url, {"confirm": "yes"}, follow=True)
    assert "already erased" in response.content.decode()
    assert question.audit_events.count() == events


def test_an_unknown_code_cannot_be_erased(client: Any) -> None:
    assert client.post("/track/nosuchcodeatallxyz/erase/", {"confirm": "yes"}).status_code == 404
