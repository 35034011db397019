"""Request and response shapes of the JSON API: the one declaration of each (they also
define the OpenAPI schema). Output schemas read the models themselves, through field
aliases and `resolve_*` methods, so the API's views return objects, never dicts that
repeat the shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from ninja import Field, Schema
from pydantic import StrictBool, StrictInt, StrictStr

from psyconsole.questions import limits, rubric, selectors
from psyconsole.questions.models import (
    Adjudication,
    Annotation,
    AnnotationAssignment,
    AuditEvent,
    Question,
    Review,
    RiskLevel,
)


def user_label(user: Any) -> str | None:
    """How the API names a professional: their full name, else their username."""
    return None if user is None else (user.get_full_name() or user.get_username())


class ErrorOut(Schema):
    detail: Any = Field(..., description="What is wrong: a message, or a list of field errors.")


class ThrottledOut(Schema):
    detail: str = Field(..., description="Why the request was not taken, and when to retry.")
    crisis_resources: list[str] = Field(
        ..., description="Where to get help at once: a throttled client may be in crisis.")


class QuestionIn(Schema):
    text: StrictStr = Field(..., description=f"The client's question, 1 to "
                            f"{limits.QUESTION_MAX_CHARS:,} characters.",
                            json_schema_extra={"minLength": 1,
                                               "maxLength": limits.QUESTION_MAX_CHARS})
    contact: StrictStr | None = Field(None, description="Optional contact details. Only "
                                      "supervisors can see them.",
                                      json_schema_extra={"maxLength": limits.CONTACT_MAX_CHARS})
    human_only: StrictBool = Field(False, description="true: the client asks for a reply "
                                   "written by a counsellor without AI. The question is "
                                   "then never sent to the model (it is still screened for "
                                   "risk, without it), and never exported for retraining. "
                                   "Strictly true or false.")


class QuestionCreatedOut(Schema):
    id: int
    tracking_code: str
    status: str


class ReplyOut(Schema):
    text: str
    approved_at: datetime
    disclosure: str


class CorrectionOut(Schema):
    label: str
    text: str
    corrected_at: datetime


class QuestionStatusOut(Schema):
    tracking_code: str
    status: str
    status_label: str
    received_at: datetime = Field(..., alias="created_at")
    human_only: bool = Field(..., description="The client asked for a reply written by a "
                             "counsellor without AI: no model drafts it.")
    reply: ReplyOut | None
    correction: CorrectionOut | None = Field(
        None, description="A follow-up to the reply from a supervisor's audit, shown with "
                          "the reply, which is unchanged; null when there is none.")
    notice: str
    support_resources: list[str]

    @staticmethod
    def resolve_status_label(question: Question) -> str:
        return question.get_status_display()

    @staticmethod
    def resolve_reply(question: Question) -> dict[str, Any] | None:
        review = selectors.delivered_reply(question)
        if review is None:
            return None
        # Corpus links as the tracking page shows them: the service's own article page.
        return {"text": selectors.client_reply_text(review.final_text),
                "approved_at": review.created_at,
                "disclosure": selectors.reply_disclosure(question)}

    @staticmethod
    def resolve_correction(question: Question) -> dict[str, Any] | None:
        from psyconsole.questions.supervision_selectors import delivered_correction

        correction = delivered_correction(question)
        if correction is None:
            return None
        return {"label": "Correction from our service",
                "text": selectors.client_reply_text(correction.text),
                "corrected_at": correction.approved_at}

    @staticmethod
    def resolve_notice(question: Question) -> str:
        if question.human_only:
            return selectors.HUMAN_ONLY_NOTICE
        return settings.AI_DISCLOSURE

    @staticmethod
    def resolve_support_resources(question: Question) -> list[str]:
        return settings.CRISIS_RESOURCES


class TokenIn(Schema):
    username: StrictStr
    password: StrictStr


class TokenOut(Schema):
    token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in_hours: int


class QueueItemOut(Schema):
    id: int
    status: str
    risk_level: RiskLevel
    topics: list[str]
    sla_due_at: datetime
    sla_breached: bool
    priority: int
    excerpt: str
    created_at: datetime
    claimed_by: str | None
    claim_expires_at: datetime | None
    has_draft: bool
    human_only: bool = Field(..., description="The client asked for a reply without AI: "
                             "no draft comes; write it yourself.")

    @staticmethod
    def resolve_excerpt(question: Question) -> str:
        return question.text[:160]

    @staticmethod
    def resolve_claimed_by(question: Question) -> str | None:
        return user_label(question.claimed_by)


class PassageOut(Schema):
    chunk_id: int
    score: float
    article_title: str
    url: str
    heading: str
    text: str


class DraftOut(Schema):
    id: int
    candidate: int
    instruction: str
    text: str
    model_version: str = Field(..., alias="model_version.name")
    engine: str
    prompt_version: str
    passages: list[PassageOut]
    findings: list[dict[str, Any]]
    timings: dict[str, float]
    prompt_tokens: int
    completion_tokens: int
    created_at: datetime


class FindingOut(Schema):
    rule: str
    severity: str = Field(..., description='"block" stops an approval; "warn" and "info" '
                          "are shown only.")
    detail: str
    excerpt: str


class ReviewOut(Schema):
    id: int
    question_id: int
    decision: str
    reviewer: str
    final_text: str
    reason: str
    findings: list[FindingOut] = Field(..., description="What the guardrails found in the "
                                       "final text when it was approved.")
    overridden: bool = Field(..., description="Approved over blocking findings, with a "
                             "written reason: flagged for the supervisor.")
    override_reason: str
    created_at: datetime
    audited_by: str | None
    audited_at: datetime | None
    audit_outcome: str = Field(..., description="sound, needs_feedback or needs_correction; "
                               "empty until audited.")

    @staticmethod
    def resolve_reviewer(review: Review) -> str | None:
        return user_label(review.reviewer)

    @staticmethod
    def resolve_audited_by(review: Review) -> str | None:
        return user_label(review.audited_by)


class BlockedOut(Schema):
    detail: str
    findings: list[FindingOut]


class DraftingOut(Schema):
    state: str = Field(..., description="drafting, slow, failed, waiting, drafted, "
                       "human_only (the client asked for no AI: no draft comes) or closed")
    in_progress: bool = Field(..., description="The worker is writing a draft now (a "
                              "counsellor may hold the claim meanwhile).")
    has_draft: bool
    message: str
    offer_write_without_draft: bool
    slow_at: datetime | None = Field(..., description="When a question still without a "
                                     "draft counts as slow (PSY_DRAFT_SLOW_SECONDS).")
    lease_expires_at: datetime | None
    last_event: str
    last_event_at: datetime | None


class QuestionDetailOut(Schema):
    """No tracking code: it is the client's only secret, and staff never need it."""

    id: int
    text: str
    contact: str | None = Field(None, description="Only for users who may see contact details.")
    status: str
    risk_level: RiskLevel
    risk_factors: list[dict[str, Any]]
    topics: list[str]
    priority: int
    human_only: bool = Field(..., description="The client asked for a reply written "
                             "without AI: the model never drafts it and a redraft is "
                             "refused (409); write it yourself.")
    created_at: datetime
    claimed_by: str | None
    claim_expires_at: datetime | None
    current_reply: str
    drafting: DraftingOut
    drafts: list[DraftOut]
    reviews: list[ReviewOut]

    @staticmethod
    def resolve_contact(question: Question, context: dict[str, Any]) -> str | None:
        user = context["request"].user
        return question.contact if selectors.can_see_contact(user) else None

    @staticmethod
    def resolve_claimed_by(question: Question) -> str | None:
        return user_label(question.claimed_by)

    @staticmethod
    def resolve_current_reply(question: Question) -> str:
        return selectors.current_reply_text(question)

    @staticmethod
    def resolve_drafting(question: Question) -> dict[str, Any]:
        return selectors.drafting_status(question)


class TextIn(Schema):
    text: StrictStr = Field(..., json_schema_extra={"minLength": 1,
                                                    "maxLength": limits.REPLY_MAX_CHARS})


class ApproveIn(Schema):
    text: StrictStr | None = Field(None, description="The final reply; omit to approve the "
                                   "latest saved edit or draft as it stands.")
    override_reason: StrictStr | None = Field(
        None, description="Approve despite blocking guardrail findings: why "
        f"({limits.OVERRIDE_REASON_MIN_CHARS} to {limits.REASON_MAX_CHARS:,} characters). "
        "Audited, and flagged on the supervisor's audit page.",
        json_schema_extra={"minLength": limits.OVERRIDE_REASON_MIN_CHARS,
                           "maxLength": limits.REASON_MAX_CHARS})


class ReasonIn(Schema):
    reason: StrictStr = Field(..., json_schema_extra={"minLength": 1,
                                                      "maxLength": limits.REASON_MAX_CHARS})


class ReassignIn(Schema):
    to: StrictStr = Field(..., description="The username of the console user who takes "
                          "the claim; they are held to the claim cap.")
    reason: StrictStr = Field(..., json_schema_extra={"minLength": 1,
                                                      "maxLength": limits.REASON_MAX_CHARS})


class RedraftIn(Schema):
    instruction: StrictStr = Field("", description='For example "shorter", "warmer" or '
                                   '"more practical", or your own words '
                                   f'({limits.INSTRUCTION_MAX_CHARS} characters).')
    candidates: StrictInt = Field(1, ge=1, le=limits.MAX_CANDIDATES,
                                  description="How many drafts to offer.")


class RiskOverrideIn(Schema):
    risk_level: RiskLevel = Field(..., description="none, low, moderate, high or imminent")
    reason: StrictStr = Field(..., json_schema_extra={"minLength": 1,
                                                      "maxLength": limits.REASON_MAX_CHARS})


class SlaOut(Schema):
    open_breaches: int
    open_breaches_by_level: dict[str, int]
    answered_late: int
    breaches_total: int
    sla_minutes: dict[str, int]


class NoteIn(Schema):
    note: StrictStr = ""


_LOW, _HIGH = limits.RATING_RANGE


def _rating_field(name: str) -> Any:
    d = rubric.BY_NAME[name]
    return Field(None, ge=_LOW, le=_HIGH, description=f"{d.label} ({d.source}): {d.scale}.")


class AnnotationIn(Schema):
    """The whole rubric (see `rubric.py`); every dimension may be left null. Posting again
    revises your annotation: the new one supersedes it, and the history is kept."""

    overall: StrictInt | None = _rating_field("overall")
    empathy: StrictInt | None = _rating_field("empathy")
    specificity: StrictInt | None = _rating_field("specificity")
    factual_consistency: StrictInt | None = _rating_field("factual_consistency")
    toxicity_or_harm: StrictInt | None = _rating_field("toxicity_or_harm")
    medical_advice: StrictBool | None = Field(None, description="Medical advice given "
                                              "(CounselBench): true = yes, false = no.")
    helpfulness: StrictInt | None = _rating_field("helpfulness")
    relevance: StrictInt | None = _rating_field("relevance")
    fluency: StrictInt | None = _rating_field("fluency")
    logic: StrictInt | None = _rating_field("logic")
    safety: StrictInt | None = Field(None, ge=_LOW, le=_HIGH, deprecated=True,
                                     description="Deprecated (5 = safe): stored as "
                                     "toxicity_or_harm = 6 - safety.")
    tags: list[StrictStr] = Field(default_factory=list, max_length=limits.MAX_TAGS)
    note: StrictStr = ""


class AnnotationOut(Schema):
    id: int
    review_id: int
    author: str
    overall: int | None
    empathy: int | None
    specificity: int | None
    factual_consistency: int | None
    toxicity_or_harm: int | None
    medical_advice: bool | None
    helpfulness: int | None
    relevance: int | None
    fluency: int | None
    logic: int | None
    tags: list[str]
    note: str
    blind: bool = Field(..., description="Written by an assigned second annotator before "
                        "they could see any other annotation.")
    rubric_version: int = Field(..., description="1: migrated from the first four ratings.")
    supersedes_id: int | None = Field(..., description="The annotation this one revises.")
    superseded_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_author(annotation: Annotation) -> str | None:
        return user_label(annotation.author)


class EditOut(Schema):
    id: int
    question_id: int
    created_at: datetime


class AuditEventOut(Schema):
    id: int
    actor: str = Field(..., alias="actor_label")
    action: str
    from_state: str
    to_state: str
    reason: str
    flagged: bool = Field(..., description="A guardrail override: a reply approved over "
                          "blocking findings.")
    data: dict[str, Any]
    created_at: datetime

    @staticmethod
    def resolve_flagged(event: AuditEvent) -> bool:
        return event.action == "guardrail_override"


# --- double annotation and agreement ---------------------------------------------------

class AnnotationAssignmentOut(Schema):
    id: int
    review_id: int
    question_id: int
    annotator: str
    assigned_by: str
    reason: str = Field(..., description='Why it was sampled: "share" or "risk".')
    created_at: datetime
    completed_at: datetime | None

    @staticmethod
    def resolve_question_id(assignment: AnnotationAssignment) -> int:
        return assignment.review.question_id

    @staticmethod
    def resolve_annotator(assignment: AnnotationAssignment) -> str | None:
        return user_label(assignment.annotator)

    @staticmethod
    def resolve_assigned_by(assignment: AnnotationAssignment) -> str | None:
        return user_label(assignment.assigned_by)


class SampleIn(Schema):
    annotators: list[StrictStr] = Field(..., min_length=1, description="Usernames of the "
                                        "second annotators; they take the replies in turn.")
    share: float = Field(0.0, ge=0, le=1, description="A random share of the approved "
                         "replies not yet doubly annotated, e.g. 0.2 (rounded up).")
    risk_levels: list[StrictStr] = Field(default_factory=list, description="Send every one "
                                         'at these risk levels too, e.g. ["high", '
                                         '"imminent"].')
    seed: StrictInt | None = Field(None, description="For a reproducible sample.")


class SampleOut(Schema):
    assigned: list[AnnotationAssignmentOut]
    skipped: list[int] = Field(..., description="Reviews no chosen annotator could take "
                               "(the reviewer, or already annotated it).")
    considered: int


class AdjudicationIn(Schema):
    dimension: StrictStr = Field(..., description=", ".join(rubric.NAMES))
    value: StrictBool | StrictInt = Field(..., description="1-5, or true/false for "
                                          "medical_advice.")
    reason: StrictStr = Field(..., json_schema_extra={"minLength": 1,
                                                      "maxLength": limits.REASON_MAX_CHARS})


class AdjudicationOut(Schema):
    id: int
    review_id: int
    dimension: str
    value: bool | int
    by: str
    reason: str
    created_at: datetime

    @staticmethod
    def resolve_value(adjudication: Adjudication) -> int | bool | None:
        return rubric.from_number(adjudication.dimension, adjudication.value)

    @staticmethod
    def resolve_by(adjudication: Adjudication) -> str | None:
        return user_label(adjudication.by)


class DisagreementValueOut(Schema):
    annotator: str
    value: bool | int


class DisagreementOut(Schema):
    review_id: int = Field(..., alias="review.pk")
    question_id: int = Field(..., alias="review.question_id")
    dimension: str
    label: str
    values: list[DisagreementValueOut]
    adjudication: AdjudicationOut | None

    @staticmethod
    def resolve_values(disagreement: Any) -> list[dict[str, Any]]:
        return [{"annotator": who, "value": value} for who, value in disagreement.values]


class DimensionAgreementOut(Schema):
    label: str
    level: str = Field(..., description="ordinal or nominal")
    alpha: float | None = Field(..., description="Krippendorff's alpha; null when "
                                "undefined (see note).")
    n_items: int = Field(..., description="Doubly-annotated items with two values here.")
    n_values: int
    note: str
    n_disagreements: int
    n_disagreements_open: int
    n_adjudicated: int


class AgreementOut(Schema):
    method: str
    n_doubly_annotated: int
    ordinal_tolerance: int
    compared: str
    dimensions: dict[str, DimensionAgreementOut]
