"""Selectors: read-only queries for the console, the API and the public pages."""

from __future__ import annotations

from datetime import timedelta

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

from psyconsole.questions.models import AuditEvent, Draft, Question, Review, Status
from psyconsole.questions.states import OPEN_STATES


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
                                   risk_level__in=["high", "imminent"]).order_by("created_at")


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


def delivered_reply(question: Question) -> Review | None:
    if question.status != Status.DELIVERED:
        return None
    return question.reviews.filter(decision=Review.Decision.APPROVED).first()


def approved_reviews() -> QuerySet[Review]:
    return (Review.objects.filter(decision=Review.Decision.APPROVED)
            .select_related("question", "reviewer", "draft", "audited_by")
            .order_by("audited_at", "-created_at"))


def audit_trail(question: Question) -> QuerySet[AuditEvent]:
    return question.audit_events.select_related("actor").order_by("created_at", "id")


def can_see_contact(user: AbstractBaseUser) -> bool:
    return user.has_perm("questions.view_contact")
