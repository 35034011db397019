"""Websocket consumers for the console: live queue changes, crisis alerts and presence
(who is viewing which question, see presence.py)."""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from psyconsole.questions import presence
from psyconsole.questions.events import (
    ALERTS_GROUP,
    QUEUE_GROUP,
    SUPERVISORS_GROUP,
    question_group,
)
from psyconsole.questions.models import Question

# console.js sends a heartbeat every 20 s; more often than this is ignored.
HEARTBEAT_MIN_SECONDS = 5.0


@database_sync_to_async
def _may_watch(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("questions.view_question"))


@database_sync_to_async
def _supervises(user: Any) -> bool:
    return bool(user.has_perm("questions.audit_reply"))


@database_sync_to_async
def _presence_message(question_id: int, user_ids: list[int]) -> dict[str, Any]:
    """Who views the question and who holds its claim, as the layer carries it: user
    ids travel with the names so that each page can leave its own user out."""
    names = presence.display_names(user_ids)
    claimant = (Question.objects.filter(pk=question_id, claimed_by__isnull=False)
                .select_related("claimed_by").first())
    claimed_by = ""
    if claimant is not None:
        holder = claimant.claimed_by
        claimed_by = holder.get_full_name() or holder.get_username()
    return {"type": "console.event", "event": "presence", "question_id": question_id,
            "viewers": [[u, names[u]] for u in user_ids if u in names],
            "claimed_by": claimed_by}


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    """Every console page opens one of these. It joins the queue and alert groups, and
    the group of the question being viewed, if any. Messages are hints to re-read,
    except presence, which lives only in Redis and is sent whole each time."""

    viewing: int | None = None
    last_heartbeat = 0.0

    async def connect(self) -> None:
        if not await _may_watch(self.scope.get("user")):
            await self.close(code=4403)
            return
        self.groups_joined = [QUEUE_GROUP, ALERTS_GROUP]
        if await _supervises(self.scope["user"]):
            self.groups_joined.append(SUPERVISORS_GROUP)
        question_id = self.scope["url_route"]["kwargs"].get("question_id")
        if question_id is not None:
            self.groups_joined.append(question_group(int(question_id)))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        if question_id is not None:
            # Only a user who may watch gets here, so only they are ever counted.
            self.viewing = int(question_id)
            await presence.arrive(self._redis(), self.viewing, self.scope["user"].pk,
                                  self.channel_name, time.time())
            await self._announce(self.viewing)

    async def disconnect(self, code: int) -> None:
        if self.viewing is not None:
            await presence.leave(self._redis(), self.viewing, self.scope["user"].pk,
                                 self.channel_name)
            await self._announce(self.viewing)
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The console only listens, except for its presence heartbeat; anything else a
        # client sends is ignored.
        if not (isinstance(content, dict) and content.get("heartbeat") is True):
            return
        now = time.time()
        if now - self.last_heartbeat < HEARTBEAT_MIN_SECONDS:
            return
        self.last_heartbeat = now
        conn = self._redis()
        if self.viewing is not None:
            await presence.arrive(conn, self.viewing, self.scope["user"].pk,
                                  self.channel_name, now)
        # Any page's heartbeat clears the pages that stopped beating, wherever they were.
        for question_id in await presence.sweep(conn, now):
            await self._announce(question_id)

    async def console_event(self, message: dict[str, Any]) -> None:
        payload = {k: v for k, v in message.items() if k != "type"}
        if payload.get("event") == "presence":
            # Names only, and never the page's own user: "also viewing" means others.
            me = self.scope["user"].pk
            payload["viewers"] = [name for user_id, name in payload["viewers"] if user_id != me]
        await self.send_json(payload)

    def _redis(self) -> Any:
        """The channel layer's Redis connection for this event loop (redis.asyncio)."""
        return self.channel_layer.connection(0)

    async def _announce(self, question_id: int) -> None:
        """Tells the question's pages and the queue who is viewing it now."""
        viewers = await presence.viewer_ids(self._redis(), question_id, time.time())
        message = await _presence_message(question_id, viewers)
        await self.channel_layer.group_send(question_group(question_id), message)
        await self.channel_layer.group_send(QUEUE_GROUP, message)
