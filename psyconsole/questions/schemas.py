"""Request and response shapes of the JSON API (they also define the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Schema
from pydantic import StrictInt, StrictStr


class ErrorOut(Schema):
    detail: Any = Field(..., description="What is wrong: a message, or a list of field errors.")


class QuestionIn(Schema):
    text: StrictStr = Field(..., description="The client's question, 1 to 5,000 characters.",
                            json_schema_extra={"minLength": 1, "maxLength": 5000})
    contact: StrictStr | None = Field(None, description="Optional contact details. Only "
                                      "supervisors can see them.",
                                      json_schema_extra={"maxLength": 254})


class QuestionCreatedOut(Schema):
    id: int
    tracking_code: str
    status: str


class ReplyOut(Schema):
    text: str
    approved_at: datetime
    disclosure: str


class QuestionStatusOut(Schema):
    tracking_code: str
    status: str
    status_label: str
    received_at: datetime
    reply: ReplyOut | None
    notice: str
    support_resources: list[str]


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
    risk_level: str
    topics: list[str]
    sla_due_at: datetime
    sla_breached: bool
    priority: int
    excerpt: str
    created_at: datetime
    claimed_by: str | None
    claim_expires_at: datetime | None
    has_draft: bool


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
    model_version: str
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


class BlockedOut(Schema):
    detail: str
    findings: list[FindingOut]


class DraftingOut(Schema):
    state: str = Field(..., description="drafting, slow, failed, waiting, drafted or closed")
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
    id: int
    tracking_code: str
    text: str
    contact: str | None = Field(None, description="Only for users who may see contact details.")
    status: str
    risk_level: str
    risk_factors: list[dict[str, Any]]
    topics: list[str]
    priority: int
    created_at: datetime
    claimed_by: str | None
    claim_expires_at: datetime | None
    current_reply: str
    drafting: DraftingOut
    drafts: list[DraftOut]
    reviews: list[ReviewOut]


class TextIn(Schema):
    text: StrictStr = Field(..., json_schema_extra={"minLength": 1, "maxLength": 20000})


class ApproveIn(Schema):
    text: StrictStr | None = Field(None, description="The final reply; omit to approve the "
                                   "latest saved edit or draft as it stands.")
    override_reason: StrictStr | None = Field(
        None, description="Approve despite blocking guardrail findings: why (10 to 2,000 "
        "characters). Audited, and flagged on the supervisor's audit page.",
        json_schema_extra={"minLength": 10, "maxLength": 2000})


class ReasonIn(Schema):
    reason: StrictStr = Field(..., json_schema_extra={"minLength": 1, "maxLength": 2000})


class RedraftIn(Schema):
    instruction: StrictStr = Field("", description='For example "shorter", "warmer" or '
                                   '"more practical", or your own words (200 characters).')
    candidates: StrictInt = Field(1, ge=1, le=3, description="How many drafts to offer.")


class RiskOverrideIn(Schema):
    risk_level: StrictStr = Field(..., description="none, low, moderate, high or imminent")
    reason: StrictStr = Field(..., json_schema_extra={"minLength": 1, "maxLength": 2000})


class SlaOut(Schema):
    open_breaches: int
    open_breaches_by_level: dict[str, int]
    answered_late: int
    breaches_total: int
    sla_minutes: dict[str, int]


class NoteIn(Schema):
    note: StrictStr = ""


class AnnotationIn(Schema):
    helpfulness: StrictInt | None = Field(None, ge=1, le=5)
    relevance: StrictInt | None = Field(None, ge=1, le=5)
    empathy: StrictInt | None = Field(None, ge=1, le=5)
    safety: StrictInt | None = Field(None, ge=1, le=5)
    tags: list[StrictStr] = Field(default_factory=list, max_length=20)
    note: StrictStr = ""


class AnnotationOut(Schema):
    id: int
    review_id: int


class EditOut(Schema):
    id: int
    question_id: int
    created_at: datetime


class AuditEventOut(Schema):
    id: int
    actor: str
    action: str
    from_state: str
    to_state: str
    reason: str
    flagged: bool = Field(..., description="A guardrail override: a reply approved over "
                          "blocking findings.")
    data: dict[str, Any]
    created_at: datetime
