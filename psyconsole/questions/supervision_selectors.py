"""Reads for the supervisor's desk: the audit's sampling policy, the audit list, one
reply's audit view, the per-counsellor figures, feedback waiting in a counsellor's
console, and the correction a client sees.

The sampling policy
-------------------
An approved reply is sampled for audit when it meets a rule in PSY_AUDIT_SAMPLE_ALWAYS:

- high_risk: its question is at high or imminent risk (screening/levels.py);
- guardrail_finding: it was approved over a guardrail finding (a blocking finding
  overridden with a reason, or a warning the counsellor saw and approved anyway);
- risk_override: someone overrode the question's risk level (an audited risk_override);

and otherwise when it falls in the random share, PSY_AUDIT_SAMPLE_SHARE of the rest. The
share is drawn by a multiplicative hash of the review's id (Knuth's 2654435761, modulo
2**32), computed in the query itself, so the same reply is always in or always out, the
list can be filtered by it in SQL, and consecutive ids spread evenly over the share.
The policy is computed when read, not stored: nothing has to be written at approval, and
a change of setting applies to every reply alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Mod

from psyconsole.questions.models import (
    AuditEvent,
    Correction,
    Feedback,
    Question,
    Review,
    Status,
)
from psyconsole.screening.levels import CRISIS_LEVELS

HASH_MULTIPLIER = 2654435761
HASH_RANGE = 2 ** 32

# The rules, in the order their reasons are shown, with the words shown.
RULES: dict[str, str] = {
    "high_risk": "high risk",
    "guardrail_finding": "approved over a guardrail finding",
    "risk_override": "risk overridden",
}
RANDOM_REASON = "random share"

SHOW = ("all", "sampled", "overrides")


def hash_bucket(review_id: int) -> int:
    """Where a review falls in [0, 2**32): as the query computes it (the id is first
    reduced modulo 2**31 so that the product fits a signed 64-bit integer)."""
    return ((review_id % 2 ** 31) * HASH_MULTIPLIER) % HASH_RANGE


def in_random_share(review_id: int, share: float | None = None) -> bool:
    share = settings.AUDIT_SAMPLE_SHARE if share is None else share
    return hash_bucket(review_id) < share * HASH_RANGE


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(True)), default=Value(False),
                output_field=BooleanField())


def with_sampling(reviews: QuerySet[Review]) -> QuerySet[Review]:
    """Annotates each review with the facts the policy reads (high_risk,
    guardrail_finding, risk_override, in_random_share, each true or false whatever the
    setting) and `sampled`, the policy's answer; plus `is_overridden` and
    `correction_overridden` for the overrides filter."""
    threshold = int(settings.AUDIT_SAMPLE_SHARE * HASH_RANGE)
    # The findings are matched as JSON text, not with JSONField's `contains`: SQLite (the
    # demo's database) has no containment lookup. PostgreSQL's jsonb and Django's
    # json.dumps on SQLite both write `"key": "value"`, so the same text matches on both.
    reviews = reviews.annotate(findings_text=Cast("findings", TextField())).annotate(
        high_risk=_flag(Q(question__risk_level__in=CRISIS_LEVELS)),
        guardrail_finding=_flag(~Q(override_reason="")
                                | Q(findings_text__contains='"severity": "block"')
                                | Q(findings_text__contains='"severity": "warn"')),
        risk_override=Exists(AuditEvent.objects.filter(question=OuterRef("question"),
                                                       action="risk_override")),
        sample_bucket=Mod(Mod(F("id"), Value(2 ** 31)) * Value(HASH_MULTIPLIER),
                          Value(HASH_RANGE)),
        is_overridden=_flag(~Q(override_reason="")),
        correction_overridden=Exists(Correction.objects.filter(
            review=OuterRef("pk")).exclude(override_reason="")),
    ).annotate(in_random_share=_flag(Q(sample_bucket__lt=threshold)))
    condition = Q(in_random_share=True)
    for rule in settings.AUDIT_SAMPLE_ALWAYS:
        condition |= Q(**{rule: True})
    return reviews.annotate(sampled=_flag(condition))


def sampling_reasons(review: Review) -> list[str]:
    """Why a review (annotated by with_sampling) is in the sample; empty when it is not.
    The random share is named only when no rule put it there: it is a share of the rest."""
    reasons = [words for rule, words in RULES.items()
               if rule in settings.AUDIT_SAMPLE_ALWAYS and getattr(review, rule, False)]
    if not reasons and getattr(review, "in_random_share", False):
        reasons.append(RANDOM_REASON)
    return reasons


def approved_for_audit() -> QuerySet[Review]:
    return with_sampling(
        Review.objects.filter(decision=Review.Decision.APPROVED)
        .select_related("question", "reviewer", "draft__model_version", "audited_by",
                        "correction__author", "feedback"))


def audit_list(show: str = "all") -> QuerySet[Review]:
    """The audit page: unaudited replies first, sampled ones first among them, then those
    approved over blocking checks, newest first. `show`: all, sampled, or overrides (a
    guardrail override on the approval or on a correction, or a risk override)."""
    reviews = approved_for_audit().annotate(
        audit_pending=_flag(Q(audited_at__isnull=True)))
    if show == "sampled":
        reviews = reviews.filter(sampled=True)
    elif show == "overrides":
        reviews = reviews.filter(Q(is_overridden=True) | Q(correction_overridden=True)
                                 | Q(risk_override=True))
    return reviews.order_by("-audit_pending", "-sampled", "-is_overridden", "-created_at",
                            "-id")


def review_for_audit(review_id: int) -> Review:
    """One approved reply with everything its audit view shows (Review.DoesNotExist if
    there is no such approved reply)."""
    return approved_for_audit().get(pk=review_id)


@dataclass
class CounsellorShare:
    """One counsellor's replies in the audit: how many they approved, how many the policy
    sampled (and that share), how many were audited, and the outcomes."""

    counsellor: Any
    approved: int = 0
    sampled: int = 0
    audited: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        Review.AuditOutcome.values, 0))

    @property
    def share(self) -> float:
        return self.sampled / self.approved if self.approved else 0.0

    @property
    def share_percent(self) -> int:
        return round(100 * self.share)


def counsellor_shares() -> list[CounsellorShare]:
    """Every counsellor with an approved reply, by name. Counted over every approved
    reply, one row each of four small columns (a console's numbers, not a warehouse's)."""
    from django.contrib.auth import get_user_model

    rows = (with_sampling(Review.objects.filter(decision=Review.Decision.APPROVED))
            .values_list("reviewer_id", "sampled", "audited_at", "audit_outcome"))
    found: dict[int, CounsellorShare] = {}
    for reviewer_id, sampled, audited_at, outcome in rows:
        share = found.setdefault(reviewer_id, CounsellorShare(counsellor=None))
        share.approved += 1
        share.sampled += bool(sampled)
        if audited_at is not None:
            share.audited += 1
            if outcome in share.outcomes:
                share.outcomes[outcome] += 1
    for user in get_user_model().objects.filter(pk__in=list(found)):
        found[user.pk].counsellor = user
    return sorted(found.values(), key=lambda s: s.counsellor.get_username())


def open_feedback(user: AbstractBaseUser) -> QuerySet[Feedback]:
    """Feedback for this counsellor that they have not acknowledged, newest first."""
    return (Feedback.objects.filter(counsellor=user, acknowledged_at__isnull=True)
            .select_related("review__question", "supervisor").order_by("-created_at", "-id"))


def delivered_correction(question: Question) -> Correction | None:
    """The correction a client sees under their reply; None before one, or once the
    question is no longer delivered (erased)."""
    if question.status != Status.DELIVERED:
        return None
    return (Correction.objects.filter(review__question=question,
                                      review__decision=Review.Decision.APPROVED)
            .order_by("-approved_at", "-id").first())
