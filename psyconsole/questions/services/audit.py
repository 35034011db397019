"""Audit, the supervisor's work on approved replies."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from psyconsole.questions import limits, states
from psyconsole.questions.models import (
    Review,
)
from psyconsole.questions.services.checks import check_can, check_text
from psyconsole.questions.states import Actor, TransitionError


def check_not_own_reply(review: Review, user: AbstractBaseUser) -> None:
    """No one audits their own reply: not the professional who approved it, nor one who
    wrote part of it (a saved edit), or the audit is only the author looking again."""
    if review.reviewer_id == user.pk or review.question.edits.filter(author=user).exists():
        raise PermissionDenied("You approved or wrote this reply, and no one audits their "
                               "own reply: another supervisor audits it.")


def check_can_audit(review: Review, user: AbstractBaseUser) -> None:
    check_can(user, "questions.audit_reply")
    if review.decision != Review.Decision.APPROVED:
        raise ValidationError({"review": "Only approved replies are audited."})
    check_not_own_reply(review, user)


def mark_audited(review: Review, user: AbstractBaseUser, note: str, outcome: str,
                 data: dict[str, object] | None = None) -> None:
    """Records the audit and its outcome, once: call inside the caller's transaction, after
    check_can_audit. A second audit of the same reply loses the conditional update."""
    updated = Review.objects.filter(pk=review.pk, audited_at__isnull=True).update(
        audited_by=user, audited_at=timezone.now(), audit_note=note, audit_outcome=outcome)
    if not updated:
        raise TransitionError(f"Review #{review.pk} has already been audited.")
    question = review.question
    states.record_event(question, Actor.of(user), "audit", from_state=question.status,
                        to_state=question.status, reason=note,
                        data={"review_id": review.pk, "outcome": outcome, **(data or {})})


def do_audit(review: Review, user: AbstractBaseUser, note: object = "") -> Review:
    """Marks the reply audited and sound (the other outcomes: services/supervision.py)."""
    check_can(user, "questions.audit_reply")
    note = check_text(note, field="note", max_chars=limits.REASON_MAX_CHARS, required=False)
    check_can_audit(review, user)
    with transaction.atomic():
        mark_audited(review, user, note, Review.AuditOutcome.SOUND)
    review.refresh_from_db()
    return review
