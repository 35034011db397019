"""Live pushes to the console over Channels, sent only after the transaction commits.

A push is a hint that something changed; the database stays the truth, and the console
re-reads it. A push that cannot be sent (Redis down) is logged and dropped, never
allowed to undo or block the change that caused it.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction

from psyconsole import broker

logger = logging.getLogger(__name__)

QUEUE_GROUP = "console.queue"
ALERTS_GROUP = "console.alerts"
# Supervisors' pages only: alerts about questions only a supervisor may act on.
SUPERVISORS_GROUP = "console.supervisors"


def question_group(question_id: int) -> str:
    return f"console.question.{question_id}"


def _send(group: str, message: dict[str, Any]) -> None:
    try:
        async_to_sync(broker.channel_layer().group_send)(group, message)
    except Exception:
        logger.warning("Could not push %s to %s", message.get("event"), group, exc_info=True)


def send_on_commit(group: str, event: str, **payload: Any) -> None:
    message = {"type": "console.event", "event": event, **payload}
    transaction.on_commit(lambda: _send(group, message))


def question_changed(question_id: int, status: str, risk_level: str) -> None:
    payload = {"question_id": question_id, "status": status, "risk_level": risk_level}
    send_on_commit(QUEUE_GROUP, "question.changed", **payload)
    send_on_commit(question_group(question_id), "question.changed", **payload)


def crisis_alert(question_id: int, risk_level: str) -> None:
    send_on_commit(ALERTS_GROUP, "crisis.alert", question_id=question_id, risk_level=risk_level)


def escalation_alert(question_id: int, risk_level: str) -> None:
    """An escalated risky question: only supervisors may claim it, so only they are
    alerted (a counsellor could not act on it)."""
    send_on_commit(SUPERVISORS_GROUP, "crisis.alert", question_id=question_id,
                   risk_level=risk_level, escalated=True)


def draft_progress(question_id: int, text: str, candidate: int) -> None:
    """Text generated so far, sent at once: streaming is not tied to any transaction,
    and a missed message costs nothing because every message carries the whole text."""
    _send(question_group(question_id), {"type": "console.event", "event": "draft.progress",
                                        "question_id": question_id, "candidate": candidate,
                                        "text": text})


def drafting_ended(question_id: int, outcome: str, text: str = "",
                   alternatives: list[str] | None = None) -> None:
    """The worker finished ("drafted", with the final draft text and the texts of any
    sampled alternatives) or gave up ("draft_failed", "draft_cancelled"), sent after
    commit. A counsellor writing beside the draft sees it, and the alternatives, without
    a reload, which would lose unsaved text."""
    send_on_commit(question_group(question_id), "drafting.ended", question_id=question_id,
                   outcome=outcome, text=text, alternatives=alternatives or [])


def sla_alert(question_id: int, risk_level: str, waiting_seconds: int,
              due_in_seconds: int) -> None:
    """A high or imminent question near its first-response deadline and never claimed:
    supervisors only, since theirs is the call to pull someone onto it. A distinct event
    (not crisis.alert): every page already flagged the crisis when it arrived."""
    send_on_commit(SUPERVISORS_GROUP, "sla_alert", question_id=question_id,
                   risk_level=risk_level, waiting_seconds=waiting_seconds,
                   due_in_seconds=due_in_seconds)
