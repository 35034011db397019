"""A client erases their question through the API with DELETE on its tracking URL."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions.models import Draft, Status
from psyconsole.questions.services.intake import do_submit_question
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db


def test_delete_erases_and_the_code_still_answers(api: Any) -> None:
    question = make_drafted_question("Wombatmarker12 cannot sleep.")
    url = f"/api/v1/questions/{question.tracking_code}"
    response = api.delete(url)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "erased" and response.json()["reply"] is None
    question.refresh_from_db()
    assert question.status == Status.ERASED and "Wombatmarker12" not in question.text
    assert not Draft.objects.filter(question=question, prompt__icontains="Wombatmarker12")
    assert api.get(url).json()["status"] == "erased"
    assert api.delete(url).status_code == 409


def test_a_submitted_question_with_contact_is_erased(api: Any) -> None:
    question = do_submit_question("Please help, I worry a lot.", "me@example.org").question
    assert api.delete(f"/api/v1/questions/{question.tracking_code}").status_code == 200
    question.refresh_from_db()
    assert question.contact == "" and question.request_fingerprint == ""


def test_an_unknown_code_is_404(api: Any) -> None:
    assert api.delete("/api/v1/questions/nosuchcodeatallxyz").status_code == 404
