"""Selectors: read-only queries for the console, the API and the public pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from psyconsole.questions.models import ApiToken, AuditEvent, Draft, Question, Review, Status
from psyconsole.questions.states import CLOSED_STATES, OPEN_STATES, is_drafting
from psyconsole.screening.levels import CRISIS_LEVELS

TRACKING_CODE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def sla_due_expression() -> Case:
    return Case(*[When(risk_level=level, then=F("created_at") + timedelta(minutes=minutes))
                  for level, minutes in settings.TRIAGE_SLA_MINUTES.items()],
                output_field=DateTimeField())


def queue(*, status: str | None = None, risk_level: str | None = None,
          topic: str | None = None) -> QuerySet[Question]:
    """Open questions by risk, then by time left on the risk level's first-response
    SLA, then by age."""
    questions = (Question.objects.filter(status__in=OPEN_STATES).select_related("claimed_by")
                 .annotate(has_draft=Exists(Draft.objects.filter(question=OuterRef("pk"))),
                           sla_due_at=sla_due_expression())
                 .annotate(sla_breached=Case(
                     When(first_claimed_at__isnull=True, sla_due_at__lt=timezone.now(),
                          then=Value(True)),
                     default=Value(False), output_field=BooleanField())))
    if status:
        questions = questions.filter(status=status)
    if risk_level:
        questions = questions.filter(risk_level=risk_level)
    if topic:
        # A text match on the JSON list works on PostgreSQL and SQLite alike.
        questions = questions.filter(topics__icontains=f'"{topic}"')
    return questions.order_by("-priority", "sla_due_at", "created_at")


def sla_report() -> dict[str, object]:
    """Breaches of the first-response SLA: open ones now, and all-time counts."""
    by_level = dict.fromkeys(settings.TRIAGE_SLA_MINUTES, 0)
    for level in queue().filter(sla_breached=True).values_list("risk_level", flat=True):
        by_level[level] += 1
    open_breaches = sum(by_level.values())
    answered_late = (Question.objects.annotate(sla_due_at=sla_due_expression())
                     .filter(first_claimed_at__gt=F("sla_due_at")).count())
    return {
        "open_breaches": open_breaches,
        "open_breaches_by_level": by_level,
        "answered_late": answered_late,
        "breaches_total": open_breaches + answered_late,
        "sla_minutes": settings.TRIAGE_SLA_MINUTES,
    }


def unclaimed_crises() -> QuerySet[Question]:
    """High and imminent questions nobody has claimed yet: flagged on every page."""
    return Question.objects.filter(status__in=OPEN_STATES, claimed_by__isnull=True,
                                   risk_level__in=CRISIS_LEVELS).order_by("created_at")


def question_by_tracking_code(code: str) -> Question:
    """The question a client's tracking code names; Question.DoesNotExist for a code that
    is malformed or unknown (told apart from each other nowhere, so that codes cannot be
    probed)."""
    if not TRACKING_CODE.match(code):
        raise Question.DoesNotExist
    return Question.objects.get(tracking_code=code)


def question_for_staff(question_id: int) -> Question:
    return (Question.objects.select_related("claimed_by")
            .prefetch_related("drafts__model_version", "edits__author", "reviews__reviewer")
            .get(pk=question_id))


def current_draft(question: Question) -> Draft | None:
    """The greedy draft of the latest batch: what the editor starts from."""
    return question.drafts.filter(candidate=0).order_by("-created_at", "-id").first()


def alternative_drafts(question: Question, draft: Draft | None) -> QuerySet[Draft]:
    """The sampled candidates drafted with `draft` in the same batch."""
    if draft is None:
        return Draft.objects.none()
    return question.drafts.filter(candidate__gt=0, id__gt=draft.pk).order_by("candidate")


DRAFTING_EVENTS = ("drafting", "drafted", "draft_failed", "draft_cancelled",
                   "draft_lease_expired")
DRAFT_FAILURES = {
    "draft_failed": "the model raised an error",
    "draft_lease_expired": "the drafting worker stopped before it finished",
}


def drafting_status(question: Question) -> dict[str, Any]:
    """Where the model's draft stands, in words a counsellor can act on. `state` is one of
    drafting, slow (no draft after DRAFT_SLOW_SECONDS, drafting or still queued), failed,
    waiting (queued, not yet slow), drafted, or closed. For slow and failed the console
    offers "write without a draft"."""
    now = timezone.now()
    has_draft = current_draft(question) is not None
    in_progress = (is_drafting(question) and question.drafting_lease_expires_at is not None
                   and question.drafting_lease_expires_at > now)
    last = (question.audit_events.filter(action__in=DRAFTING_EVENTS)
            .order_by("-created_at", "-id").first())
    slow_at = question.created_at + timedelta(seconds=settings.DRAFT_SLOW_SECONDS)
    waited = int((now - question.created_at).total_seconds())
    failure = DRAFT_FAILURES.get(last.action) if last is not None else None
    if question.status in CLOSED_STATES:
        state, message = "closed", ""
    elif in_progress and (has_draft or now < slow_at):
        state = "drafting"
        message = ("The model is writing a new draft." if has_draft else
                   "The model is writing a draft now. You can claim the question and start "
                   "your own reply meanwhile; the draft appears beside it.")
    elif not has_draft and failure is not None:
        state = "failed"
        message = (f"Drafting failed: {failure} at {last.created_at:%H:%M:%S}. There is no "
                   "draft. Write the reply without one.")
    elif has_draft:
        state = "drafted"
        message = "A draft is ready." if failure is None else (
            f"A draft is ready; the last redraft failed ({failure}).")
    elif now >= slow_at:
        state = "slow"
        message = (f"Drafting is slow: no draft {waited} s after the question arrived"
                   f"{' (the model is still writing)' if in_progress else ' (still queued)'}."
                   " Don't wait for it: write without a draft.")
    else:
        state = "waiting"
        message = "Waiting for the model to start a draft."
    return {
        "state": state,
        "in_progress": in_progress,
        "has_draft": has_draft,
        "message": message,
        "offer_write_without_draft": state in ("slow", "failed"),
        "slow_at": None if has_draft else slow_at,
        "lease_expires_at": question.drafting_lease_expires_at if in_progress else None,
        "last_event": last.action if last is not None else "",
        "last_event_at": last.created_at if last is not None else None,
    }


def delivered_reply(question: Question) -> Review | None:
    if question.status != Status.DELIVERED:
        return None
    return question.reviews.filter(decision=Review.Decision.APPROVED).first()


def approved_reviews(*, overridden: bool | None = None) -> QuerySet[Review]:
    """Approved replies for the audit: unaudited first, and among those the ones
    approved over blocking guardrail findings first."""
    reviews = (Review.objects.filter(decision=Review.Decision.APPROVED)
               .select_related("question", "reviewer", "draft", "audited_by")
               .annotate(is_overridden=Case(When(override_reason="", then=Value(False)),
                                            default=Value(True), output_field=BooleanField())))
    if overridden is not None:
        reviews = reviews.filter(is_overridden=overridden)
    return reviews.order_by(F("audited_at").asc(nulls_first=True), "-is_overridden",
                            "-created_at")


def audit_trail(question: Question) -> QuerySet[AuditEvent]:
    return question.audit_events.select_related("actor").order_by("created_at", "id")


def can_see_contact(user: AbstractBaseUser) -> bool:
    return user.has_perm("questions.view_contact")


def current_reply_text(question: Question) -> str:
    edit = question.edits.first()
    if edit is not None:
        return edit.text
    draft = current_draft(question)
    return draft.text if draft is not None else ""


def user_for_api_token(token: str) -> AbstractBaseUser | None:
    found = (ApiToken.objects.select_related("user")
             .filter(key_hash=ApiToken.hash_of(token), expires_at__gt=timezone.now()).first())
    if found is None or not found.user.is_active:
        return None
    return found.user
