"""A console left open with nothing happening keeps its websocket: the channel layer's
blocking receive must not outlast the Redis client's read timeout (it did, and every
quiet console dropped its live updates every few seconds)."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from psyconsole.questions.services import intake
from tests.test_websocket import _connect, _receive_until, _session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_a_quiet_console_still_gets_the_next_push(counsellor):
    communicator = await _connect("/ws/console/", await _session_cookie(counsellor))
    connected, _ = await communicator.connect()
    assert connected
    await asyncio.sleep(12)  # two of channels-redis's 5 s blocking receives, and more
    submission = await database_sync_to_async(intake.do_submit_question)("I feel low")
    message = await _receive_until(communicator, "question.changed")
    assert message["question_id"] == submission.question.pk
    await communicator.disconnect()
