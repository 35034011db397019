"""The question state machine. This module is the only writer of `Question.status`.

Each transition is one conditional UPDATE (`WHERE id = ? AND status = ?`), so two
processes racing for the same question cannot both win, and each writes an
append-only AuditEvent in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from psyconsole.questions.models import AuditEvent, Question, Status

S = Status

TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.SCREENED, S.WITHDRAWN}),
    S.SCREENED: frozenset({S.DRAFTING, S.IN_REVIEW, S.ESCALATED, S.WITHDRAWN}),
    # drafting -> screened: the draft failed or its worker died; the question is redraftable.
    S.DRAFTING: frozenset({S.DRAFTED, S.SCREENED, S.WITHDRAWN}),
    S.DRAFTED: frozenset({S.DRAFTING, S.IN_REVIEW, S.ESCALATED, S.WITHDRAWN}),
    S.IN_REVIEW: frozenset({S.APPROVED, S.REJECTED, S.ESCALATED, S.DRAFTED, S.SCREENED,
                            S.WITHDRAWN}),
    S.ESCALATED: frozenset({S.IN_REVIEW, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
}

OPEN_STATES = frozenset({S.RECEIVED, S.SCREENED, S.DRAFTING, S.DRAFTED, S.IN_REVIEW,
                         S.ESCALATED})
CLOSED_STATES = frozenset(TRANSITIONS) - OPEN_STATES


class TransitionError(Exception):
    """The question is not in a state from which the action is allowed."""


@dataclass(frozen=True)
class Actor:
    """Who caused an event: a signed-in user, or a named part of the system."""

    label: str
    user: AbstractBaseUser | None = None

    @classmethod
    def of(cls, user: AbstractBaseUser) -> Actor:
        return cls(label=user.get_username(), user=user)


CLIENT = Actor("client")
SCREENER = Actor("screener")
WORKER = Actor("worker")
SYSTEM = Actor("system")


def can_transition(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, frozenset())


def record_event(
    question: Question | None,
    actor: Actor,
    action: str,
    *,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        question=question,
        actor=actor.user,
        actor_label=actor.label,
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data=data or {},
    )


def transition(
    question: Question,
    to_state: str,
    actor: Actor,
    *,
    action: str | None = None,
    reason: str = "",
    from_states: frozenset[str] | set[str] | None = None,
    extra_condition: Q | None = None,
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> Question:
    """Moves `question` to `to_state` and sets `fields`, or raises TransitionError.

    `from_states` narrows where the move may start (by default, any state that allows
    it); `extra_condition` adds to the WHERE clause, for example a lease check.
    """
    allowed_from = {s for s, targets in TRANSITIONS.items() if to_state in targets}
    if from_states is not None:
        allowed_from &= set(from_states)
    with transaction.atomic():
        current = Question.objects.filter(pk=question.pk).values_list("status", flat=True).first()
        if current is None:
            raise TransitionError(f"Question #{question.pk} does not exist.")
        if current not in allowed_from:
            raise TransitionError(
                f"Question #{question.pk} is {current}; it cannot move to {to_state}."
            )
        condition = Q(pk=question.pk, status=current)
        if extra_condition is not None:
            condition &= extra_condition
        updated = Question.objects.filter(condition).update(
            status=to_state, updated_at=timezone.now(), **fields
        )
        if updated != 1:
            raise TransitionError(
                f"Question #{question.pk} changed under us; it cannot move to {to_state}."
            )
        record_event(question, actor, action or to_state, from_state=current, to_state=to_state,
                     reason=reason, data=data)
    question.refresh_from_db()
    return question


def create_received(*, actor: Actor, **fields: Any) -> Question:
    """Stores a new question in its first state, with its first audit event."""
    with transaction.atomic():
        question = Question.objects.create(**fields)
        record_event(question, actor, "received", to_state=Status.RECEIVED)
    return question
