"""The question workflow's data. `status` is only ever written by `states.py`."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from psyconsole.questions import rubric
from psyconsole.questions.limits import RATING_RANGE
from psyconsole.screening.levels import is_crisis, is_risky


def new_tracking_code() -> str:
    # 24 random bytes: 192 bits, URL-safe, 32 characters.
    return secrets.token_urlsafe(24)


class RiskLevel(models.TextChoices):
    NONE = "none", "None"
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"
    IMMINENT = "imminent", "Imminent"


class Status(models.TextChoices):
    RECEIVED = "received", "Received"
    SCREENED = "screened", "Screened"
    DRAFTING = "drafting", "Drafting"
    DRAFTED = "drafted", "Drafted"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    DELIVERED = "delivered", "Delivered"
    REJECTED = "rejected", "Rejected"
    ESCALATED = "escalated", "Escalated"
    WITHDRAWN = "withdrawn", "Withdrawn"
    # Terminal: the client's text and contact are gone (services/erasure.py); the row
    # stays for counts and the audit trail.
    ERASED = "erased", "Erased"


class Question(models.Model):
    tracking_code = models.CharField(max_length=64, unique=True, default=new_tracking_code,
                                     editable=False)
    text = models.TextField()
    contact = models.CharField(max_length=254, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED,
                              editable=False)
    risk_level = models.CharField(max_length=16, choices=RiskLevel.choices,
                                  default=RiskLevel.NONE)
    risk_factors = models.JSONField(default=list, blank=True)
    topics = models.JSONField(default=list, blank=True)
    human_only = models.BooleanField(
        default=False, editable=False,
        help_text="The client asked for a reply written without AI: never sent to the model.")
    first_claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="The first response, for the risk level's SLA.")
    priority = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="claimed_questions")
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    drafting_lease_expires_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when a counsellor cancels the draft in progress.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "created_at"]
        indexes = [
            models.Index(fields=["status", "-priority", "created_at"], name="question_queue_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="question_text_not_empty"),
            models.CheckConstraint(
                condition=Q(claimed_by__isnull=True) | Q(claim_expires_at__isnull=False),
                name="question_claim_has_lease",
            ),
        ]
        permissions = [
            ("claim_question", "Can claim, edit and release questions"),
            ("approve_reply", "Can approve, reject and escalate replies"),
            ("audit_reply", "Can audit approved replies and read the audit log"),
            ("view_contact", "Can see a client's contact details"),
            ("export_annotations", "Can export annotated pairs for retraining"),
            ("erase_question", "Can erase a client's question on their request"),
        ]

    def __str__(self) -> str:
        return f"Question #{self.pk} ({self.status}, risk {self.risk_level})"

    @property
    def is_risky(self) -> bool:
        return is_risky(self.risk_level)

    @property
    def is_crisis(self) -> bool:
        return is_crisis(self.risk_level)


class Draft(models.Model):
    """One model-written candidate reply, with everything needed to reproduce it."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="drafts")
    model_version = models.ForeignKey("inference.ModelVersion", on_delete=models.PROTECT,
                                      related_name="drafts")
    text = models.TextField(help_text="The draft as shown to the counsellor.")
    raw_text = models.TextField(help_text="Exactly what the model generated.")
    prompt = models.JSONField(help_text="The exact chat messages sent to the model.")
    prompt_version = models.CharField(max_length=32)
    instruction = models.CharField(max_length=200, blank=True,
                                   help_text="The counsellor's request for this version.")
    candidate = models.PositiveSmallIntegerField(
        default=0, help_text="0 for the greedy draft; 1, 2... for sampled alternatives.")
    passages = models.JSONField(default=list, help_text="Retrieved passages with scores.")
    findings = models.JSONField(default=list, help_text="What post-processing changed, and why.")
    engine = models.CharField(max_length=32, blank=True,
                              help_text="How a local model generated: int4 or float32; "
                                        "empty for a server.")
    timings = models.JSONField(default=dict)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["question", "-created_at"], name="draft_latest_idx")]

    def __str__(self) -> str:
        return f"Draft #{self.pk} for question #{self.question_id}"


class ReplyEdit(models.Model):
    """A counsellor's saved working copy of the reply; the newest one is current."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="edits")
    based_on = models.ForeignKey(Draft, null=True, blank=True, on_delete=models.SET_NULL)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Edit #{self.pk} of question #{self.question_id}"


class Review(models.Model):
    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        ESCALATED = "escalated", "Escalated"

    class AuditOutcome(models.TextChoices):
        SOUND = "sound", "Sound"
        NEEDS_FEEDBACK = "needs_feedback", "Needs feedback"
        NEEDS_CORRECTION = "needs_correction", "Needs correction"

    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="reviews")
    draft = models.ForeignKey(Draft, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="reviews")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    final_text = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    findings = models.JSONField(
        default=list, blank=True,
        help_text="What the guardrails found in the final text when it was approved.")
    override_reason = models.TextField(
        blank=True, help_text="Why the reply was approved despite blocking findings; empty "
                              "when nothing blocked it. Flagged on the audit page.")
    created_at = models.DateTimeField(auto_now_add=True)
    audited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="audits")
    audited_at = models.DateTimeField(null=True, blank=True)
    audit_note = models.TextField(blank=True)
    audit_outcome = models.CharField(
        max_length=24, choices=AuditOutcome.choices, blank=True,
        help_text="The supervisor's verdict (services/supervision.py); empty until audited.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["question"],
                condition=Q(decision="approved"),
                name="one_approved_reply_per_question",
            ),
            models.CheckConstraint(
                condition=~Q(decision="approved") | ~Q(final_text=""),
                name="approved_reply_has_text",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} review of question #{self.question_id}"

    @property
    def overridden(self) -> bool:
        """Approved over blocking guardrail findings, with a written reason."""
        return bool(self.override_reason)

    @property
    def blocking_findings(self) -> list[dict[str, str]]:
        return [f for f in self.findings or [] if f.get("severity") == "block"]


class Feedback(models.Model):
    """A supervisor's note to the counsellor who approved a reply (the audit outcome
    "needs feedback"), shown in that counsellor's console until they acknowledge it."""

    review = models.OneToOneField(Review, on_delete=models.CASCADE, related_name="feedback")
    counsellor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="feedback_received")
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="feedback_given")
    note = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(note=""), name="feedback_has_note"),
        ]

    def __str__(self) -> str:
        return f"Feedback on review #{self.review_id} for user #{self.counsellor_id}"


class Correction(models.Model):
    """A follow-up reply to the client (the audit outcome "needs correction"), written and
    approved by a supervisor through the same final-text check as an approval. It is
    shown on the tracking page under the original reply, which is never changed; the
    question's status is not touched."""

    review = models.OneToOneField(Review, on_delete=models.PROTECT, related_name="correction")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="corrections")
    text = models.TextField()
    findings = models.JSONField(
        default=list, blank=True,
        help_text="What the guardrails found in the correction when it was approved.")
    override_reason = models.TextField(
        blank=True, help_text="Why it was sent despite blocking findings; flagged on the "
                              "audit page.")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(
        help_text="When its author approved it: from then on the client sees it.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="correction_has_text"),
        ]

    def __str__(self) -> str:
        return f"Correction of review #{self.review_id}"

    @property
    def overridden(self) -> bool:
        return bool(self.override_reason)

    @property
    def blocking_findings(self) -> list[dict[str, str]]:
        return [f for f in self.findings or [] if f.get("severity") == "block"]


def _ratings_in_range() -> Q:
    """Every ordinal rating of the rubric is empty or 1 to 5."""
    low, high = RATING_RANGE
    condition = Q()
    for name in rubric.ORDINAL_NAMES:
        condition &= Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__gte": low,
                                                          f"{name}__lte": high})
    return condition


def _rating() -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(null=True, blank=True)


class AnnotationAssignment(models.Model):
    """A supervisor's request for a second, blind annotation of an approved reply. Until
    the annotator submits (`completed_at`), the console and the API hide every other
    annotation of the review from them."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE,
                               related_name="annotation_assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="annotation_assignments")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="annotation_assignments_made")
    reason = models.CharField(max_length=64, blank=True,
                              help_text='Why it was sampled: "share" or "risk".')
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "annotator"],
                                    name="one_assignment_per_annotator_and_review"),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | Q(completed_at__gte=F("created_at")),
                name="assignment_completed_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"Second annotation of review #{self.review_id} by user #{self.annotator_id}"

    @property
    def is_open(self) -> bool:
        return self.completed_at is None


class Annotation(models.Model):
    """A reviewer's judgement of a reply on the rubric (`rubric.py`), kept for retraining
    and evaluation. A revision is a new row that `supersedes` the author's previous one
    (which gets `superseded_at`), so the history is kept; each author has at most one
    current annotation per review."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="annotations")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    # CounselBench
    overall = _rating()
    empathy = _rating()
    specificity = _rating()
    factual_consistency = _rating()
    toxicity_or_harm = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="1 = none, 5 = severe.")
    medical_advice = models.BooleanField(null=True, blank=True,
                                         help_text="Did the reply give medical advice?")
    # Psy-LLM
    helpfulness = _rating()
    relevance = _rating()
    fluency = _rating()
    logic = _rating()
    tags = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    rubric_version = models.PositiveSmallIntegerField(
        default=2, help_text="1: migrated from the first four ratings; 2: the rubric.")
    supersedes = models.OneToOneField("self", null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="superseded_by")
    superseded_at = models.DateTimeField(null=True, blank=True)
    assignment = models.ForeignKey(AnnotationAssignment, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="annotations")
    blind = models.BooleanField(
        default=False, help_text="Written by an assigned second annotator before they "
                                 "could see any other annotation of the review.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=_ratings_in_range(), name="annotation_ratings_1_to_5"),
            models.UniqueConstraint(fields=["review", "author"],
                                    condition=Q(superseded_at__isnull=True),
                                    name="one_current_annotation_per_author"),
            models.CheckConstraint(
                condition=Q(blind=False) | Q(assignment__isnull=False),
                name="blind_annotation_has_assignment"),
        ]
        indexes = [models.Index(fields=["review", "author", "-created_at"],
                                name="annotation_history_idx")]

    def __str__(self) -> str:
        return f"Annotation #{self.pk} of review #{self.review_id}"

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None


class Adjudication(models.Model):
    """A supervisor's ruling on one dimension where annotators disagreed. The latest
    ruling for a (review, dimension) is the value that is exported."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="adjudications")
    dimension = models.CharField(max_length=32)
    value = models.PositiveSmallIntegerField(
        help_text="1-5 for an ordinal dimension; 1 (yes) or 0 (no) for medical_advice.")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                           related_name="adjudications")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(dimension__in=rubric.NOMINAL_NAMES, value__in=[0, 1])
                           | Q(dimension__in=rubric.ORDINAL_NAMES,
                               value__gte=RATING_RANGE[0], value__lte=RATING_RANGE[1])),
                name="adjudication_value_in_scale",
            ),
            models.CheckConstraint(condition=~Q(reason=""),
                                   name="adjudication_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.dimension} = {self.value} for review #{self.review_id}"


class AppendOnlyError(Exception):
    pass


class AuditEvent(models.Model):
    """An append-only record of one action. Rows are never updated or deleted."""

    question = models.ForeignKey(Question, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="audit_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.PROTECT, related_name="audit_events")
    actor_label = models.CharField(max_length=64, help_text="Who acted: a username, "
                                   "'client', 'screener' or 'worker'.")
    action = models.CharField(max_length=32)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["question", "created_at"], name="audit_question_idx")]
        default_permissions = ("add", "view")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("Audit events are append-only.")


class ApiToken(models.Model):
    """A bearer token for scripting the console API; only its hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"API token #{self.pk} of user #{self.user_id}"

    @staticmethod
    def hash_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class ScreeningLabel(models.Model):
    """A risk level a counsellor set by hand, kept as a labelled example for retraining
    the screener."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE,
                                 related_name="screening_labels")
    text = models.TextField()
    screened_level = models.CharField(max_length=16, choices=RiskLevel.choices)
    risk_level = models.CharField(max_length=16, choices=RiskLevel.choices)
    reason = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.screened_level} -> {self.risk_level} for question #{self.question_id}"
