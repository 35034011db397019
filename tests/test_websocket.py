"""The console websocket, through the real ASGI app and the Redis channel layer."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from psyconsole.asgi import application
from psyconsole.questions.services import intake

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ORIGIN = (b"origin", b"http://localhost")


@database_sync_to_async
def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(path: str, cookie: bytes | None = None) -> WebsocketCommunicator:
    headers = [ORIGIN, (b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


async def _receive_until(communicator: WebsocketCommunicator, event: str) -> dict:
    for _ in range(10):
        message = await communicator.receive_json_from(timeout=5)
        if message["event"] == event:
            return message
    raise AssertionError(f"no {event} message")


async def test_anonymous_visitors_are_refused():
    communicator = await _connect("/ws/console/")
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4403


async def test_users_without_a_console_role_are_refused(outsider):
    communicator = await _connect("/ws/console/", await _session_cookie(outsider))
    connected, _ = await communicator.connect()
    assert not connected


async def test_a_new_question_appears_on_the_queue_live(counsellor):
    communicator = await _connect("/ws/console/", await _session_cookie(counsellor))
    connected, _ = await communicator.connect()
    assert connected
    submission = await database_sync_to_async(intake.do_submit_question)("I feel low")
    message = await _receive_until(communicator, "question.changed")
    assert message == {"event": "question.changed", "question_id": submission.question.pk,
                       "status": "screened", "risk_level": "low"}
    await communicator.disconnect()


async def test_a_crisis_question_raises_an_alert(counsellor):
    communicator = await _connect("/ws/console/", await _session_cookie(counsellor))
    await communicator.connect()
    submission = await database_sync_to_async(intake.do_submit_question)(
        "I want to kill myself tonight")
    alert = await _receive_until(communicator, "crisis.alert")
    assert alert["question_id"] == submission.question.pk
    assert alert["risk_level"] == "imminent"
    await communicator.disconnect()


async def test_a_question_page_hears_about_its_own_question(counsellor):
    submission = await database_sync_to_async(intake.do_submit_question)("Hello")
    qid = submission.question.pk
    communicator = await _connect(f"/ws/console/questions/{qid}/",
                                  await _session_cookie(counsellor))
    await communicator.connect()
    await database_sync_to_async(intake.do_withdraw)(submission.question)
    message = await _receive_until(communicator, "question.changed")
    assert (message["question_id"], message["status"]) == (qid, "withdrawn")
    await communicator.disconnect()


async def test_a_drafting_lease_the_sweeper_expires_reaches_the_console(counsellor):
    """The worker died mid-draft: when the sweeper ends its lapsed lease, the queue hears
    that the question is waiting again (it used to stay 'drafting' on every console)."""
    from datetime import timedelta

    from django.utils import timezone

    from psyconsole.questions import states
    from psyconsole.questions.models import Status
    from psyconsole.questions.services import drafting

    def start_a_draft_whose_worker_died() -> int:
        question = intake.do_submit_question("I can't sleep before exams").question
        lapsed = timezone.now() - timedelta(seconds=5)
        states.start_drafting(question, states.WORKER, lapsed,
                              from_states={Status.SCREENED})
        return question.pk

    qid = await database_sync_to_async(start_a_draft_whose_worker_died)()
    communicator = await _connect("/ws/console/", await _session_cookie(counsellor))
    connected, _ = await communicator.connect()
    assert connected
    requeued = await database_sync_to_async(drafting.do_sweep_stuck_drafts)()
    assert qid in requeued
    message = await _receive_until(communicator, "question.changed")
    assert message == {"event": "question.changed", "question_id": qid,
                       "status": "screened", "risk_level": "low"}
    await communicator.disconnect()
