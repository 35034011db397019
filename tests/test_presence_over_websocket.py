"""Presence over the console websocket: a counsellor opening a question page is shown to
the others on it and on the queue (names only, never to themselves), leaves when the page
closes, and drops out when the page stops beating; someone without a console role is
never counted."""

from __future__ import annotations

import time
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.test import Client

from psyconsole.questions import presence
from psyconsole.questions.services import intake
from tests.test_websocket import _connect, _session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@database_sync_to_async
def _new_question() -> int:
    return intake.do_submit_question("I can't sleep before exams").question.pk


async def _page(path: str, user: Any) -> Any:
    communicator = await _connect(path, await _session_cookie(user))
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _presence(communicator: Any, question_id: int, viewers: list[str]) -> dict:
    """The first presence message for the question that lists exactly these viewers."""
    for _ in range(10):
        message = await communicator.receive_json_from(timeout=5)
        if (message["event"] == "presence" and message["question_id"] == question_id
                and message["viewers"] == viewers):
            return message
    raise AssertionError(f"no presence message listing {viewers}")


@database_sync_to_async
def _queue_rows_for(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.get("/console/queue/rows/").content.decode()


async def test_a_second_counsellor_sees_the_first_one_viewing(counsellor, other_counsellor):
    qid = await _new_question()
    queue = await _page("/ws/console/", other_counsellor)
    casey = await _page(f"/ws/console/questions/{qid}/", counsellor)
    # Casey's own page lists nobody else; Robin's queue hears that Casey is on it.
    assert (await _presence(casey, qid, []))["claimed_by"] == ""
    await _presence(queue, qid, ["Casey"])
    robin = await _page(f"/ws/console/questions/{qid}/", other_counsellor)
    message = await _presence(robin, qid, ["Casey"])
    assert set(message) == {"event", "question_id", "viewers", "claimed_by"}
    await _presence(casey, qid, ["Robin"])
    # The queue as rendered for Robin marks Casey; Casey's does not mark Casey.
    assert "viewing: Casey" in await _queue_rows_for(other_counsellor)
    assert "viewing: Casey" not in await _queue_rows_for(counsellor)

    await robin.disconnect()
    await _presence(casey, qid, [])
    await casey.disconnect()
    await _presence(queue, qid, [])
    await queue.disconnect()
    assert presence.viewers_by_question([qid]) == {}


async def test_a_page_that_stops_beating_drops_out(counsellor, other_counsellor, settings):
    qid = await _new_question()
    # Robin's page went quiet 30 s ago (a frozen browser): still within the TTL.
    layer = get_channel_layer()
    await presence.arrive(layer.connection(0), qid, other_counsellor.pk, "gone-quiet",
                          time.time() - 30)
    casey = await _page(f"/ws/console/questions/{qid}/", counsellor)
    await _presence(casey, qid, ["Robin"])
    settings.PRESENCE_TTL_SECONDS = 10
    # Casey's heartbeat refreshes Casey and sweeps out the page that stopped beating.
    await casey.send_json_to({"heartbeat": True})
    await _presence(casey, qid, [])
    assert presence.viewers_by_question([qid]) == {qid: [counsellor.pk]}
    await casey.disconnect()


async def test_someone_without_a_console_role_is_not_counted(counsellor, outsider):
    qid = await _new_question()
    refused = await _connect(f"/ws/console/questions/{qid}/", await _session_cookie(outsider))
    assert not (await refused.connect())[0]
    casey = await _page(f"/ws/console/questions/{qid}/", counsellor)
    await _presence(casey, qid, [])
    assert presence.viewers_by_question([qid]) == {qid: [counsellor.pk]}
    await casey.disconnect()
