"""The live alert for an escalated risky question goes to supervisors' pages only: a
counsellor's open queue is not told about a question they cannot claim."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from psyconsole.questions.services import intake
from psyconsole.questions.services.review import do_claim, do_escalate
from tests.test_websocket import _connect, _session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _alerts(communicator: Any, quiet: float) -> list[dict[str, Any]]:
    """Every crisis alert heard until nothing arrives for `quiet` seconds. (A timed-out
    receive would stop the consumer under test, so receive_nothing decides when to stop.)"""
    heard: list[dict[str, Any]] = []
    while not await communicator.receive_nothing(timeout=quiet):
        message = await communicator.receive_json_from()
        if message["event"] == "crisis.alert":
            heard.append(message)
    return heard


@database_sync_to_async
def _escalate_a_crisis(user: Any) -> int:
    question = intake.do_submit_question("I want to kill myself tonight").question
    do_claim(question, user)
    do_escalate(question, user, "A supervisor should take this.")
    return question.pk


async def test_only_supervisors_hear_an_escalation(counsellor: Any, supervisor: Any) -> None:
    mine = await _connect("/ws/console/", await _session_cookie(counsellor))
    theirs = await _connect("/ws/console/", await _session_cookie(supervisor))
    assert (await mine.connect())[0] and (await theirs.connect())[0]
    qid = await _escalate_a_crisis(counsellor)
    counsellor_heard = await _alerts(mine, 3)
    supervisor_heard = await _alerts(theirs, 1)
    # Both heard the new crisis arrive; only the supervisor hears it come back escalated.
    assert [a.get("escalated", False) for a in counsellor_heard] == [False]
    assert {"event": "crisis.alert", "question_id": qid, "risk_level": "imminent",
            "escalated": True} in supervisor_heard
    await mine.disconnect()
    await theirs.disconnect()
