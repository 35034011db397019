"""Selectors: read-only queries for the console, the API and the public pages."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, QuerySet

from psyconsole.questions.models import AuditEvent, Draft, Question, Review, Status
from psyconsole.questions.states import OPEN_STATES


def queue(*, status: str | None = None, risk_level: str | None = None) -> QuerySet[Question]:
    """Open questions, most urgent first."""
    questions = (Question.objects.filter(status__in=OPEN_STATES).select_related("claimed_by")
                 .annotate(has_draft=Exists(Draft.objects.filter(question=OuterRef("pk")))))
    if status:
        questions = questions.filter(status=status)
    if risk_level:
        questions = questions.filter(risk_level=risk_level)
    return questions.order_by("-priority", "created_at")


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
