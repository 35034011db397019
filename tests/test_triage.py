"""Triage: take next, risk overrides, SLAs and persistent crisis flags."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from psyconsole.questions import selectors
from psyconsole.questions.models import Question, ScreeningLabel
from psyconsole.questions.services import review
from tests.factories import JsonClient, make_drafted_question

pytestmark = pytest.mark.django_db


def _age(question: Question, minutes: int) -> None:
    Question.objects.filter(pk=question.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes))


def test_take_next_claims_the_most_urgent_question(counsellor):
    calm = make_drafted_question("I'm a bit stressed")
    crisis = make_drafted_question("I keep thinking about suicide")
    taken = review.do_take_next(counsellor)
    assert taken.pk == crisis.pk
    assert taken.claimed_by == counsellor and taken.first_claimed_at is not None
    assert review.do_take_next(counsellor).pk == calm.pk
    assert review.do_take_next(counsellor) is None


def test_the_queue_orders_by_risk_then_time_left_then_age():
    older = make_drafted_question("I'm a bit stressed")
    newer = make_drafted_question("I feel stressed out")
    crisis = make_drafted_question("I keep thinking about suicide")
    _age(older, 30)
    ids = [q.pk for q in selectors.queue()]
    assert ids[0] == crisis.pk
    assert ids.index(older.pk) < ids.index(newer.pk)


def test_the_queue_filters_by_topic():
    sleep = make_drafted_question("I can't sleep at night")
    make_drafted_question("My boss shouts at me at work")
    assert [q.pk for q in selectors.queue(topic="sleep")] == [sleep.pk]


def test_sla_breaches_are_counted(counsellor, settings):
    settings.TRIAGE_SLA_MINUTES = {**settings.TRIAGE_SLA_MINUTES, "high": 15}
    late = make_drafted_question("I keep thinking about suicide")
    _age(late, 20)
    make_drafted_question("I keep thinking about suicide again")  # not yet due
    report = selectors.sla_report()
    assert report["open_breaches"] == 1
    assert report["open_breaches_by_level"]["high"] == 1
    review.do_claim(Question.objects.get(pk=late.pk), counsellor)
    report = selectors.sla_report()
    assert (report["open_breaches"], report["answered_late"]) == (0, 1)


def test_an_override_is_audited_and_kept_for_retraining(counsellor):
    question = make_drafted_question("I'm fine really, just tired")
    review.do_override_risk(question, counsellor, "high", "Said more on the phone")
    question.refresh_from_db()
    assert (question.risk_level, question.priority) == ("high", 80)
    label = ScreeningLabel.objects.get()
    assert (label.screened_level, label.risk_level, label.author) == (
        question.audit_events.last().data["from"], "high", counsellor)
    assert question.audit_events.last().action == "risk_override"


@pytest.mark.parametrize(("level", "reason"), [("extreme", "x"), ("high", ""), (None, "x")])
def test_an_override_needs_a_real_level_and_a_reason(counsellor, level, reason):
    from django.core.exceptions import ValidationError

    question = make_drafted_question()
    with pytest.raises(ValidationError):
        review.do_override_risk(question, counsellor, level, reason)
    assert not ScreeningLabel.objects.exists()


def test_unclaimed_crises_stay_flagged_on_console_pages(client, counsellor):
    crisis = make_drafted_question("I keep thinking about suicide")
    client.force_login(counsellor)
    assert f"Unclaimed high-risk question #{crisis.pk}" in client.get("/console/").content.decode()
    review.do_claim(crisis, counsellor)
    assert "Unclaimed high-risk" not in client.get("/console/").content.decode()


def test_the_api_takes_next_overrides_and_reports_sla(counsellor):
    api = JsonClient()
    api.force_login(counsellor)
    question = make_drafted_question("I keep thinking about suicide")
    taken = api.post("/api/v1/console/take-next")
    assert taken.status_code == 200 and taken.json()["id"] == question.pk
    assert api.post("/api/v1/console/take-next").status_code == 204
    changed = api.post_json(f"/api/v1/console/questions/{question.pk}/risk",
                            {"risk_level": "imminent", "reason": "Mentioned tonight"})
    assert changed.status_code == 200 and changed.json()["risk_level"] == "imminent"
    assert api.post_json(f"/api/v1/console/questions/{question.pk}/risk",
                         {"risk_level": "bogus", "reason": "x"}).status_code == 422
    assert api.get("/api/v1/console/sla").json()["open_breaches"] == 0
    rows = api.get("/api/v1/console/queue").json()
    assert rows[0]["sla_due_at"] and rows[0]["sla_breached"] is False


def test_take_next_through_the_console_page(client, counsellor):
    question = make_drafted_question()
    client.force_login(counsellor)
    response = client.post("/console/take-next/")
    assert response["Location"] == f"/console/questions/{question.pk}/"
