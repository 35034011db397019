"""Websocket consumers for the console: live queue changes and crisis alerts."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from psyconsole.questions.events import (
    ALERTS_GROUP,
    QUEUE_GROUP,
    SUPERVISORS_GROUP,
    question_group,
)


@database_sync_to_async
def _may_watch(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("questions.view_question"))


@database_sync_to_async
def _supervises(user: Any) -> bool:
    return bool(user.has_perm("questions.audit_reply"))


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    """Every console page opens one of these. It joins the queue and alert groups, and
    the group of the question being viewed, if any. Messages are hints to re-read."""

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

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The console only listens; anything a client sends is ignored.
        return

    async def console_event(self, message: dict[str, Any]) -> None:
        await self.send_json({k: v for k, v in message.items() if k != "type"})
