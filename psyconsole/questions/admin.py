"""The admin site shows the workflow's records but changes none of them: a client's text,
the status, the risk, claims, leases, drafts, replies, reviews and annotations change only
through the console's services, which check every step and audit it. Questions and their
workflow records are never added or deleted here either.

What the admin can still change (users and groups, model versions, the corpus) writes an
AuditEvent on every add, change and delete, like every other action (`audit_admin_change`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from psyconsole.questions import states
from psyconsole.questions.models import (
    Adjudication,
    Annotation,
    AnnotationAssignment,
    AuditEvent,
    Correction,
    Draft,
    Feedback,
    Question,
    ReplyEdit,
    Review,
)

# Never shown: the tracking code is the client's only secret, and the fingerprint is
# derived from their text.
_SECRET_FIELDS = frozenset({"tracking_code", "request_fingerprint"})


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    """Every field read-only: the client's text and contact are theirs, and status, risk,
    claims and leases change only through the services. A save changes nothing and is
    still audited."""

    list_display = ("id", "status", "risk_level", "priority", "created_at", "claimed_by")
    list_filter = ("status", "risk_level")
    readonly_fields = [f.name for f in Question._meta.fields if f.name not in _SECRET_FIELDS]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # questions come from clients, through intake

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # erasing a client's data is a service of its own, audited


class _ReadOnly(admin.ModelAdmin):
    """Workflow records (drafts, replies, reviews, annotations, assignments, rulings)
    change only through the console's services, which audit them; here they are only
    shown, never added, changed or deleted by hand."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Draft)
class DraftAdmin(_ReadOnly):
    list_display = ("id", "question", "model_version", "completion_tokens", "created_at")


@admin.register(Feedback)
class FeedbackAdmin(_ReadOnly):
    list_display = ("id", "review", "counsellor", "supervisor", "created_at", "acknowledged_at")


@admin.register(Correction)
class CorrectionAdmin(_ReadOnly):
    list_display = ("id", "review", "author", "approved_at")


@admin.register(Review)
class ReviewAdmin(_ReadOnly):
    list_display = ("id", "question", "decision", "reviewer", "created_at", "audited_by")
    list_filter = ("decision",)


@admin.register(ReplyEdit)
class ReplyEditAdmin(_ReadOnly):
    list_display = ("id", "question", "author", "created_at")


@admin.register(Annotation)
class AnnotationAdmin(_ReadOnly):
    list_display = ("id", "review", "author", "overall", "blind", "superseded_at", "created_at")
    list_filter = ("blind", "rubric_version")


@admin.register(AnnotationAssignment)
class AnnotationAssignmentAdmin(_ReadOnly):
    list_display = ("id", "review", "annotator", "assigned_by", "created_at", "completed_at")


@admin.register(Adjudication)
class AdjudicationAdmin(_ReadOnly):
    list_display = ("id", "review", "dimension", "value", "by", "created_at")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "action", "question", "from_state", "to_state")
    list_filter = ("action",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


_ADMIN_ACTIONS = {ADDITION: "admin_add", CHANGE: "admin_change", DELETION: "admin_delete"}


@receiver(post_save, sender=LogEntry, dispatch_uid="psyconsole.questions.audit_admin_change")
def audit_admin_change(sender: type[LogEntry], instance: LogEntry, created: bool,
                       **kwargs: Any) -> None:
    """The admin logs each add, change and delete on any model as a LogEntry, inside the
    transaction of the change (before a delete, after a save); each one writes its audit
    event there too. The event names the model, the row and the fields changed, never
    their values, which could be client text."""
    if not created:
        return
    content_type = instance.content_type
    model = f"{content_type.app_label}.{content_type.model}" if content_type else ""
    question = None
    if model == "questions.question" and instance.action_flag != DELETION:
        question = Question.objects.filter(pk=instance.object_id).first()
    state = question.status if question is not None else ""
    states.record_event(question, states.Actor.of(instance.user),
                        _ADMIN_ACTIONS.get(instance.action_flag, "admin"),
                        from_state=state, to_state=state,
                        data={"model": model, "object_id": instance.object_id,
                              "change": instance.get_change_message()})


# A bulk "delete selected" logs its entries with bulk_create, which sends no signal, so it
# would escape the audit above: objects are deleted one at a time, from their own page.
admin.site.disable_action("delete_selected")
