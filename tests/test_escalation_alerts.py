"""An escalated question is a supervisor's: counsellors are not alerted about it (they
cannot claim it), supervisors are, and the question page shows the escalation's reason at
the top, before the client's text."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions.services.review import do_claim, do_escalate
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db

REASON = "Mentions a plan; I want a supervisor to handle this one."


@pytest.fixture
def escalated(counsellor: Any) -> Any:
    question = make_drafted_question("I keep thinking about suicide")
    assert question.is_crisis
    do_claim(question, counsellor)
    do_escalate(question, counsellor, REASON)
    return question


def test_counsellors_get_no_banner_for_an_escalated_question(
        client: Any, other_counsellor: Any, escalated: Any) -> None:
    client.force_login(other_counsellor)
    page = client.get("/console/").content.decode()
    assert f"question #{escalated.pk}, waiting" not in page


def test_supervisors_do_get_the_banner(client: Any, supervisor: Any, escalated: Any) -> None:
    client.force_login(supervisor)
    page = client.get("/console/").content.decode()
    assert f"Unclaimed high-risk question #{escalated.pk}" in page


def test_an_unescalated_crisis_still_alerts_counsellors(client: Any, counsellor: Any) -> None:
    question = make_drafted_question("I keep thinking about suicide")
    client.force_login(counsellor)
    assert f"question #{question.pk}, waiting" in client.get("/console/").content.decode()


def test_a_counsellor_is_not_offered_a_claim_they_cannot_make(
        client: Any, other_counsellor: Any, escalated: Any) -> None:
    client.force_login(other_counsellor)
    page = client.get(f"/console/questions/{escalated.pk}/").content.decode()
    assert REASON in page and "only a supervisor can claim it" in page
    assert "Claim for review" not in page


def test_the_escalation_reason_is_at_the_top_of_the_question_page(
        client: Any, supervisor: Any, escalated: Any) -> None:
    client.force_login(supervisor)
    page = client.get(f"/console/questions/{escalated.pk}/").content.decode()
    assert "Escalated to a supervisor" in page
    assert REASON in page
    assert page.index(REASON) < page.index('class="client-text"')
    assert "Claim for review" in page
