"""Lowering a question's risk from high or imminent needs the claim on it, or a
supervisor; raising it, or lowering a lesser risk, stays open to every counsellor."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions.models import Question, ScreeningLabel
from psyconsole.questions.services import review
from psyconsole.screening.levels import PRIORITY
from tests.factories import JsonClient, make_drafted_question

pytestmark = pytest.mark.django_db

Q = "/api/v1/console/questions"


def _client_for(user: Any) -> JsonClient:
    client = JsonClient()
    client.force_login(user)
    return client


def _at(level: str) -> Question:
    question = make_drafted_question("I keep thinking about ending it")
    # Test setup: pin the risk level, whatever the screener read.
    Question.objects.filter(pk=question.pk).update(risk_level=level, priority=PRIORITY[level])
    question.refresh_from_db()
    return question


def _lower(user: Any, question: Question, level: str) -> Any:
    return _client_for(user).post_json(f"{Q}/{question.pk}/risk",
                                       {"risk_level": level, "reason": "Reads as a joke"})


def test_a_counsellor_cannot_lower_a_question_someone_else_holds(counsellor,
                                                                 other_counsellor):
    question = review.do_claim(_at("imminent"), counsellor)
    response = _lower(other_counsellor, question, "none")
    assert response.status_code == 403
    assert "claim" in response.json()["detail"]
    question.refresh_from_db()
    assert question.risk_level == "imminent"
    assert not ScreeningLabel.objects.filter(question=question).exists()
    assert not question.audit_events.filter(action="risk_override").exists()


def test_a_counsellor_cannot_lower_an_unclaimed_high_risk_question(counsellor):
    question = _at("high")
    assert _lower(counsellor, question, "moderate").status_code == 403
    question.refresh_from_db()
    assert question.risk_level == "high"


def test_the_claim_holder_may_lower_it(counsellor):
    question = review.do_claim(_at("imminent"), counsellor)
    response = _lower(counsellor, question, "high")
    assert response.status_code == 200
    assert response.json()["risk_level"] == "high"


def test_a_supervisor_may_lower_it_without_the_claim(counsellor, supervisor):
    question = review.do_claim(_at("high"), counsellor)
    response = _lower(supervisor, question, "low")
    assert response.status_code == 200
    assert response.json()["risk_level"] == "low"


def test_raising_and_lesser_changes_stay_open(counsellor, other_counsellor):
    held = review.do_claim(_at("high"), counsellor)
    assert _lower(other_counsellor, held, "imminent").status_code == 200  # raising
    moderate = _at("moderate")
    assert _lower(other_counsellor, moderate, "none").status_code == 200


def test_the_page_explains_the_refusal(client, counsellor):
    question = _at("imminent")
    client.force_login(counsellor)
    response = client.post(f"/console/questions/{question.pk}/risk/",
                           {"risk_level": "none", "reason": "Reads as a joke"}, follow=True)
    assert "Claim it first, or ask a supervisor" in response.content.decode()
    question.refresh_from_db()
    assert question.risk_level == "imminent"
