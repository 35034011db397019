"""The question state machine. This module is the only writer of `Question.status` and of
the fields that belong to a state: the claim (`claimed_by`, `claim_expires_at`), the
drafting lease (`drafting_lease_expires_at`) and the cancel request
(`cancel_requested_at`).

Each change is one conditional UPDATE (`WHERE id = ? AND status = ?`, plus a lease check
where one applies), so two processes racing for the same question cannot both win, and
each writes an append-only AuditEvent in the same transaction.

A crisis is never blocked by the model
--------------------------------------
A counsellor may claim a question in any open state, including while the worker writes
its draft. Drafting is therefore two things: the `drafting` status (the worker holds the
lease and nobody has claimed the question) and a *marker beside a claim* (`in_review`
with `drafting_lease_expires_at` set: the counsellor holds the claim while the worker
keeps writing). Claiming a drafting question moves it to `in_review` and keeps the
lease; when the draft is finished, failed or cancelled the lease is cleared and the
question stays claimed by that counsellor. A claimed question that has no draft yet can
also be leased by the worker (`start_drafting`), so a claim made before drafting starts
still gets its draft.

Why `in_review` plus a marker, not a claim orthogonal to every status: everything a
counsellor does (edit, approve, reject, escalate, release) already requires `in_review`
and the claim, so those checks, the queue and the one-approved-reply rule stay as they
are, with one table. An orthogonal claim would make every counsellor action valid in
`drafting` too and double the table. The worker only ever adds Draft rows; it never
writes ReplyEdit, so a draft that arrives cannot overwrite the counsellor's text.

The tables
----------
- TRANSITIONS: which status may follow which.
- OWNED_FIELDS: in which states each owned field may be set. A transition clears every
  owned field its target state does not allow, so a closed question never keeps a claim
  or a lease (and a worker whose lease was cleared knows its draft is no longer wanted).
- IN_STATE_CHANGES: the changes that keep the status (renewing a claim, the worker's
  lease beside a claim, a cancel request): which states they may happen in and which
  owned fields they may write. `change_in_state` refuses anything else.

Every change, a transition or an in-state change, writes its audit event and sends
`question_changed` to the console when the transaction commits; no caller has to
remember either. The one exception is the worker's lease heartbeat
(`renew_drafting_lease`), which moves an expiry time on and changes nothing else.
Leaving `in_review` clears the claim; leaving `drafting` (or ending the lease beside a
claim) clears the lease and the cancel request.

Where a question goes when nobody holds it any more (`queue_state`: drafted if it has
a draft, else screened) and what releasing a claim means (`release`) are decided here
too, so the services never spell out the fields of a state.

`tests/test_state_machine.py` checks that no module but this one writes these fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from psyconsole.questions import events
from psyconsole.questions.models import AuditEvent, Question, Status

S = Status

TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.SCREENED, S.WITHDRAWN}),
    S.SCREENED: frozenset({S.DRAFTING, S.IN_REVIEW, S.ESCALATED, S.WITHDRAWN}),
    # drafting -> screened: the draft failed or its worker died; the question is redraftable.
    # drafting -> in_review: claimed while the draft is written; the lease stays.
    S.DRAFTING: frozenset({S.DRAFTED, S.SCREENED, S.IN_REVIEW, S.WITHDRAWN}),
    S.DRAFTED: frozenset({S.DRAFTING, S.IN_REVIEW, S.ESCALATED, S.WITHDRAWN}),
    # in_review -> drafting: released while the worker is still writing the draft.
    S.IN_REVIEW: frozenset({S.APPROVED, S.REJECTED, S.ESCALATED, S.DRAFTED, S.SCREENED,
                            S.DRAFTING, S.WITHDRAWN}),
    S.ESCALATED: frozenset({S.IN_REVIEW, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.ERASED: frozenset(),
}
# A client may ask for erasure at any time, open or closed (services/erasure.py): every
# state but `erased` itself may move there, and nothing leaves it. A terminal status
# rather than a flag beside the status, so that the queue, the console and the exports,
# which all select by status, leave an erased question out without a second filter;
# the audit event of the move keeps which state it was erased from.
for _state in list(TRANSITIONS):
    if _state != S.ERASED:
        TRANSITIONS[_state] = TRANSITIONS[_state] | {S.ERASED}
del _state

OPEN_STATES = frozenset({S.RECEIVED, S.SCREENED, S.DRAFTING, S.DRAFTED, S.IN_REVIEW,
                         S.ESCALATED})
CLOSED_STATES = frozenset(TRANSITIONS) - OPEN_STATES

# The states in which each owned field may be set (non-null).
OWNED_FIELDS: dict[str, frozenset[str]] = {
    "claimed_by": frozenset({S.IN_REVIEW}),
    "claim_expires_at": frozenset({S.IN_REVIEW}),
    "drafting_lease_expires_at": frozenset({S.DRAFTING, S.IN_REVIEW}),
    "cancel_requested_at": frozenset({S.DRAFTING, S.IN_REVIEW}),
}

_CLAIM = frozenset({"claimed_by", "claim_expires_at"})
_LEASE = frozenset({"drafting_lease_expires_at", "cancel_requested_at"})
_LEASE_ENDED = dict.fromkeys(_LEASE)

# Changes that keep the status: action -> (states it may happen in, fields it may write).
IN_STATE_CHANGES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "claim": (frozenset({S.IN_REVIEW}), _CLAIM),  # renew, or take over a lapsed claim
    "reassign": (frozenset({S.IN_REVIEW}), _CLAIM),  # a supervisor hands the claim on
    "drafting": (frozenset({S.IN_REVIEW}), _LEASE),  # the worker starts beside a claim
    "drafted": (frozenset({S.IN_REVIEW}), _LEASE),
    "draft_failed": (frozenset({S.IN_REVIEW}), _LEASE),
    "draft_cancelled": (frozenset({S.IN_REVIEW}), _LEASE),
    "draft_lease_expired": (frozenset({S.IN_REVIEW}), _LEASE),
    "cancel_draft": (frozenset({S.DRAFTING, S.IN_REVIEW}), frozenset({"cancel_requested_at"})),
}


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


def is_drafting(question: Question) -> bool:
    """Whether the worker holds a drafting lease on the question (with or without a
    claim beside it)."""
    return (question.status in OWNED_FIELDS["drafting_lease_expires_at"]
            and question.drafting_lease_expires_at is not None)


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


def _check_owned(state: str, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name in OWNED_FIELDS and value is not None and state not in OWNED_FIELDS[name]:
            raise ValueError(f"{name} cannot be set on a question that is {state}.")


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
    it); `extra_condition` adds to the WHERE clause, for example a lease check. Owned
    fields that `to_state` does not allow are cleared.
    """
    _check_owned(to_state, fields)
    allowed_from = {s for s, targets in TRANSITIONS.items() if to_state in targets}
    if from_states is not None:
        allowed_from &= set(from_states)
    cleared = {name: None for name, states in OWNED_FIELDS.items() if to_state not in states}
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
            status=to_state, updated_at=timezone.now(), **{**cleared, **fields}
        )
        if updated != 1:
            raise TransitionError(
                f"Question #{question.pk} changed under us; it cannot move to {to_state}."
            )
        record_event(question, actor, action or to_state, from_state=current, to_state=to_state,
                     reason=reason, data=data)
        question.refresh_from_db()
        events.question_changed(question.pk, question.status, question.risk_level)
    return question


def change_in_state(
    question: Question,
    action: str,
    actor: Actor,
    *,
    reason: str = "",
    extra_condition: Q | None = None,
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> Question:
    """Writes owned fields without moving the status, as IN_STATE_CHANGES allows for
    `action`, with one conditional UPDATE and an audit event; or raises TransitionError."""
    states, writable = IN_STATE_CHANGES[action]
    if not set(fields) <= writable:
        raise ValueError(f"{action} may not write {sorted(set(fields) - writable)}.")
    with transaction.atomic():
        current = Question.objects.filter(pk=question.pk).values_list("status", flat=True).first()
        if current is None:
            raise TransitionError(f"Question #{question.pk} does not exist.")
        if current not in states:
            raise TransitionError(f"Question #{question.pk} is {current}; {action} is not "
                                  "possible now.")
        _check_owned(current, fields)
        condition = Q(pk=question.pk, status=current)
        if extra_condition is not None:
            condition &= extra_condition
        updated = Question.objects.filter(condition).update(updated_at=timezone.now(), **fields)
        if updated != 1:
            raise TransitionError(f"Question #{question.pk} changed under us; {action} is not "
                                  "possible now.")
        record_event(question, actor, action, from_state=current, to_state=current,
                     reason=reason, data=data)
        question.refresh_from_db()
        events.question_changed(question.pk, question.status, question.risk_level)
    return question


# --- the drafting lease, with or without a claim beside it ---------------------------

def start_drafting(question: Question, actor: Actor, lease: datetime, *,
                   from_states: frozenset[str] | set[str], reason: str = "") -> Question:
    """The worker takes the drafting lease. An unclaimed question in `from_states` moves
    to `drafting`; a claimed one (`in_review` in `from_states`, with no lease) keeps its
    claim and gets the lease beside it. Raises TransitionError if neither is possible."""
    for _ in range(3):  # a claim or release between our read and our update: look again
        current = Question.objects.filter(pk=question.pk).values_list("status", flat=True).first()
        if current not in from_states:
            break
        try:
            if current == S.IN_REVIEW:
                return change_in_state(
                    question, "drafting", actor, reason=reason,
                    extra_condition=Q(drafting_lease_expires_at__isnull=True),
                    **{**_LEASE_ENDED, "drafting_lease_expires_at": lease})
            return transition(question, S.DRAFTING, actor, reason=reason,
                              from_states={current}, drafting_lease_expires_at=lease)
        except TransitionError:
            continue
    raise TransitionError(f"Question #{question.pk} is not waiting for a draft.")


def queue_state(question: Question) -> str:
    """Where an open question waits when nobody holds it: `drafted` if it has a draft
    for a counsellor to review, else `screened` (waiting for one)."""
    return S.DRAFTED if question.drafts.exists() else S.SCREENED


def end_drafting(question: Question, actor: Actor, lease: datetime, *, action: str,
                 unclaimed_to: str | None = None, reason: str = "",
                 data: dict[str, Any] | None = None) -> str:
    """The worker ends its lease: an unclaimed question moves to `unclaimed_to` (by
    default back to the queue, `queue_state`); a claimed one stays claimed, with the
    lease cleared. Returns the status after; raises
    TransitionError if the lease is no longer this worker's (the question was closed,
    or the lease lapsed and was taken over)."""
    mine = Q(drafting_lease_expires_at=lease)
    if unclaimed_to is None:
        unclaimed_to = queue_state(question)
    for _ in range(3):
        current = Question.objects.filter(pk=question.pk).values_list("status", flat=True).first()
        try:
            if current == S.DRAFTING:
                transition(question, unclaimed_to, actor, action=action, reason=reason,
                           from_states={S.DRAFTING}, extra_condition=mine, data=data)
                return unclaimed_to
            if current == S.IN_REVIEW:
                change_in_state(question, action, actor, reason=reason, extra_condition=mine,
                                data=data, **_LEASE_ENDED)
                return S.IN_REVIEW
        except TransitionError:
            continue
        break
    raise TransitionError(f"Question #{question.pk} is no longer drafted under this lease.")


def expire_drafting_lease(question: Question, actor: Actor, now: datetime) -> bool:
    """Ends a lease that lapsed (its worker died): an unclaimed question returns to
    `screened`, a claimed one stays claimed. False if someone else got there first."""
    lapsed = Q(drafting_lease_expires_at__lt=now)
    reason = "the drafting worker did not finish in time"
    try:
        if question.status == S.IN_REVIEW:
            change_in_state(question, "draft_lease_expired", actor, reason=reason,
                            extra_condition=lapsed, **_LEASE_ENDED)
        else:
            transition(question, S.SCREENED, actor, action="draft_lease_expired",
                       reason=reason, from_states={S.DRAFTING}, extra_condition=lapsed)
    except TransitionError:
        return False
    return True


def renew_drafting_lease(question_id: int, lease: datetime, renewed: datetime) -> bool:
    """The worker's heartbeat: moves its lease on to `renewed` if it still holds `lease`
    (one conditional UPDATE); False if the lease is gone or someone else's. The one
    change with no audit event and no push: the state stays the same, and a heartbeat
    every few seconds would bury the trail and flood the console."""
    return Question.objects.filter(
        pk=question_id, status__in=OWNED_FIELDS["drafting_lease_expires_at"],
        drafting_lease_expires_at=lease,
    ).update(drafting_lease_expires_at=renewed) == 1


def request_cancel(question: Question, actor: Actor) -> Question:
    """Asks the worker to stop the draft in progress."""
    return change_in_state(question, "cancel_draft", actor,
                           extra_condition=Q(drafting_lease_expires_at__isnull=False),
                           cancel_requested_at=timezone.now())


# --- claims --------------------------------------------------------------------------

def claim(question: Question, user: AbstractBaseUser, lease: datetime, *,
          from_states: frozenset[str] | set[str], **fields: Any) -> Question:
    """Claims an unclaimed question for review, from any of `from_states`; a drafting
    lease stays, so the worker keeps writing beside the claim."""
    return transition(question, S.IN_REVIEW, Actor.of(user), action="claim",
                      from_states=from_states, claimed_by=user, claim_expires_at=lease,
                      **fields)


def renew_claim(question: Question, user: AbstractBaseUser, lease: datetime, *,
                now: datetime, reason: str) -> Question:
    """Renews the user's own claim, or takes over one whose lease has lapsed."""
    return change_in_state(
        question, "claim", Actor.of(user), reason=reason,
        extra_condition=Q(claimed_by=user) | Q(claim_expires_at__lt=now),
        claimed_by=user, claim_expires_at=lease)


def release(question: Question, user: AbstractBaseUser, *, reason: str = "",
            holder: AbstractBaseUser | None = None) -> Question:
    """The user gives their claim back, or (a supervisor) takes back `holder`'s claim. A
    question the worker is still drafting returns to `drafting` with the lease intact;
    any other goes back to the queue (`queue_state`). Raises TransitionError if the
    claim is not the holder's (by default the user's) any more."""
    now = timezone.now()
    taken_back = holder is not None and holder.pk != user.pk
    condition = Q(claimed_by=holder or user)
    if question.drafting_lease_expires_at and question.drafting_lease_expires_at > now:
        back_to = S.DRAFTING
        condition &= Q(drafting_lease_expires_at__gt=now)
    else:
        back_to = queue_state(question)
    return transition(question, back_to, Actor.of(user),
                      action="supervisor_release" if taken_back else "release", reason=reason,
                      extra_condition=condition,
                      data={"holder": holder.get_username()} if taken_back else None)


def reassign(question: Question, to: AbstractBaseUser, lease: datetime, *,
             by: AbstractBaseUser, holder: AbstractBaseUser, reason: str) -> Question:
    """A supervisor gives `holder`'s claim to `to`, with a fresh lease; the status, the
    drafting lease beside the claim and the first response stay. Raises TransitionError
    if the claim changed hands since the caller read it."""
    return change_in_state(
        question, "reassign", Actor.of(by), reason=reason,
        extra_condition=Q(claimed_by=holder),
        data={"from": holder.get_username(), "to": to.get_username()},
        claimed_by=to, claim_expires_at=lease)


def erase(question: Question, actor: Actor, *, reason: str, data: dict[str, Any],
          **scrubbed: Any) -> Question:
    """Moves the question to `erased` from any other state, writing `scrubbed` (the
    blanked text and contact) in the same conditional UPDATE; the claim and the lease
    are cleared like any move into a closed state, so a worker still drafting finds its
    lease gone and discards its draft."""
    return transition(question, S.ERASED, actor, action="erase", reason=reason, data=data,
                      **scrubbed)


def create_received(*, actor: Actor, **fields: Any) -> Question:
    """Stores a new question in its first state, with its first audit event."""
    with transaction.atomic():
        question = Question.objects.create(**fields)
        record_event(question, actor, "received", to_state=Status.RECEIVED)
    return question
