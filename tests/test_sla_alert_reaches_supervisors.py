"""SLA escalation: a high or imminent question near its first-response deadline that
nobody has claimed raises a distinct alert on supervisors' pages only, once; a claimed
or low-risk question never does, and a second run sends nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from psyconsole.questions import tasks
from psyconsole.questions.models import AuditEvent, Question
from psyconsole.questions.services import intake, sla
from psyconsole.questions.services.review import do_claim
from tests.test_websocket import _connect, _session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _aged(text: str, minutes: float) -> Question:
    question = intake.do_submit_question(text).question
    Question.objects.filter(pk=question.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes))
    return Question.objects.get(pk=question.pk)


@database_sync_to_async
def _questions(counsellor: Any) -> dict[str, Question]:
    # Imminent: a 5 min target, alerted at 4. High: 15 min, alerted at 12. Low: 24 h.
    near = _aged("I want to kill myself tonight", 4.5)
    fresh = _aged("I want to kill myself tonight", 1)
    claimed = _aged("I keep thinking about suicide", 14)
    do_claim(claimed, counsellor)
    low = _aged("I feel low", 60 * 23.5)
    assert (near.risk_level, fresh.risk_level, claimed.risk_level, low.risk_level) == (
        "imminent", "imminent", "high", "low")
    return {"near": near, "claimed": claimed, "fresh": fresh, "low": low}


async def _events(communicator: Any, event: str, quiet: float) -> list[dict[str, Any]]:
    """Every `event` message heard until nothing arrives for `quiet` seconds."""
    heard = []
    while not await communicator.receive_nothing(timeout=quiet):
        message = await communicator.receive_json_from()
        if message["event"] == event:
            heard.append(message)
    return heard


@database_sync_to_async
def _page_for(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.get("/console/").content.decode()


async def test_supervisors_alone_hear_once_about_an_unclaimed_question_near_its_deadline(
        counsellor: Any, supervisor: Any) -> None:
    questions = await _questions(counsellor)
    near = questions["near"]
    mine = await _connect("/ws/console/", await _session_cookie(counsellor))
    theirs = await _connect("/ws/console/", await _session_cookie(supervisor))
    assert (await mine.connect())[0] and (await theirs.connect())[0]

    alerted = await database_sync_to_async(sla.do_alert_sla_breaches)()
    assert alerted == [near.pk]
    heard = await _events(theirs, "sla_alert", 1)
    assert len(heard) == 1
    alert = heard[0]
    assert (alert["question_id"], alert["risk_level"]) == (near.pk, "imminent")
    assert 4 * 60 <= alert["waiting_seconds"] < 5 * 60
    assert 0 < alert["due_in_seconds"] <= 60
    assert await _events(mine, "sla_alert", 1) == []

    # Once a question: the audit event says it was sent, and the next run (the beat's
    # task, called in-process) sends nothing.
    assert await database_sync_to_async(tasks.alert_sla_breaches)() == 0
    assert await _events(theirs, "sla_alert", 1) == []
    events = AuditEvent.objects.filter(action="sla_alert")
    assert await database_sync_to_async(lambda: [e.question_id for e in events])() == [near.pk]

    # A supervisor's page, loaded or reloaded, shows the banner; a counsellor's does not.
    assert f"SLA: imminent question #{near.pk} unclaimed for" in await _page_for(supervisor)
    assert "SLA: " not in await _page_for(counsellor)
    await mine.disconnect()
    await theirs.disconnect()
