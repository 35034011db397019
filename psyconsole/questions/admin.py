from django.contrib import admin

from psyconsole.questions.models import (
    Adjudication,
    Annotation,
    AnnotationAssignment,
    AuditEvent,
    Draft,
    Question,
    ReplyEdit,
    Review,
)


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "risk_level", "priority", "created_at", "claimed_by")
    list_filter = ("status", "risk_level")
    # Status and risk change only through the console's services, never by hand.
    readonly_fields = ("tracking_code", "status", "risk_level", "risk_factors", "priority",
                       "claimed_by", "claim_expires_at", "drafting_lease_expires_at",
                       "idempotency_key", "created_at", "updated_at")


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin):
    list_display = ("id", "question", "model_version", "completion_tokens", "created_at")
    readonly_fields = [f.name for f in Draft._meta.fields]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("id", "question", "decision", "reviewer", "created_at", "audited_by")
    list_filter = ("decision",)
    readonly_fields = [f.name for f in Review._meta.fields]


admin.site.register(ReplyEdit)


class _ReadOnly(admin.ModelAdmin):
    """Annotations, assignments and rulings change only through the console's services
    (which audit them), never by hand."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


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
