"""Selectors: read-only queries for the console, the API and the public pages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from psyconsole.questions import rubric
from psyconsole.questions.models import (
    Adjudication,
    Annotation,
    AnnotationAssignment,
    ApiToken,
    AuditEvent,
    Draft,
    Question,
    Review,
    Status,
)
from psyconsole.questions.states import CLOSED_STATES, OPEN_STATES, is_drafting
from psyconsole.screening.levels import CRISIS_LEVELS

TRACKING_CODE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# The audit action of a supervisors' SLA alert (services/sla.py): at most one a question.
SLA_ALERT_ACTION = "sla_alert"


def sla_due_expression() -> Case:
    return Case(*[When(risk_level=level, then=F("created_at") + timedelta(minutes=minutes))
                  for level, minutes in settings.TRIAGE_SLA_MINUTES.items()],
                output_field=DateTimeField())


def queue(*, status: str | None = None, risk_level: str | None = None,
          topic: str | None = None) -> QuerySet[Question]:
    """Open questions by risk, then by time left on the risk level's first-response
    SLA, then by age. With a `status`, the questions in that status, closed ones too (the
    console's filter finds past work), the most recently changed first."""
    states = [status] if status else OPEN_STATES
    questions = (Question.objects.filter(status__in=states).select_related("claimed_by")
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
    if status in CLOSED_STATES:
        return questions.order_by("-updated_at", "-id")
    return questions.order_by("-priority", "sla_due_at", "created_at")


def sla_report() -> dict[str, object]:
    """Breaches of the first-response SLA: open ones now, and all-time counts."""
    by_level = dict.fromkeys(settings.TRIAGE_SLA_MINUTES, 0)
    # Counted by the database (GROUP BY), not row by row here: a backlog of thousands of
    # overdue questions was read into Python on every queue page (benchmarks/load.py).
    for row in (queue().filter(sla_breached=True).order_by().values("risk_level")
                .annotate(n=Count("pk"))):
        by_level[row["risk_level"]] += row["n"]
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


def unclaimed_crises(user: AbstractBaseUser | None = None) -> QuerySet[Question]:
    """High and imminent questions nobody has claimed yet: flagged on every page. Given a
    user, only those they may claim: an escalated question is a supervisor's, so a
    counsellor is not alerted about one they cannot act on."""
    found = Question.objects.filter(status__in=OPEN_STATES, claimed_by__isnull=True,
                                    risk_level__in=CRISIS_LEVELS)
    if user is not None and not user.has_perm("questions.audit_reply"):
        found = found.exclude(status=Status.ESCALATED)
    # Ordered by created_at + 0, the same order, so that PostgreSQL does not walk the
    # created_at index from the oldest question, reading every closed one on the way to
    # the few open crises (65 ms at 100k questions, on every console page; see
    # benchmarks/load.py); the status index finds the open ones and a top-N sort orders
    # them (8 ms).
    return found.order_by(F("created_at") + timedelta(0), "pk")


def near_sla_deadline(now: datetime | None = None) -> QuerySet[Question]:
    """High and imminent questions, open and never claimed, that have waited at least
    SLA_ALERT_SHARE of their level's first-response target (or past it), oldest
    deadline first, each with `sla_due_at` and `sla_alerted` (whether supervisors have
    had the alert, services/sla.py)."""
    now = now or timezone.now()
    share = settings.SLA_ALERT_SHARE
    near = Q()
    for level in CRISIS_LEVELS:
        waited = timedelta(minutes=settings.TRIAGE_SLA_MINUTES[level] * share)
        near |= Q(risk_level=level, created_at__lte=now - waited)
    return (Question.objects.filter(near, status__in=OPEN_STATES, claimed_by__isnull=True,
                                    first_claimed_at__isnull=True)
            .annotate(sla_due_at=sla_due_expression(),
                      sla_alerted=Exists(AuditEvent.objects.filter(
                          question=OuterRef("pk"), action=SLA_ALERT_ACTION)))
            .order_by("sla_due_at", "pk"))


def escalation(question: Question) -> Review | None:
    """The escalation that put the question where it is, with its reason; None unless the
    question is escalated now."""
    if question.status != Status.ESCALATED:
        return None
    return (question.reviews.filter(decision=Review.Decision.ESCALATED)
            .select_related("reviewer").order_by("-created_at", "-id").first())


# A URL inside a reply: up to whitespace or a closing bracket (sources are listed as
# "[1] Title (URL)"); trailing punctuation is not part of it.
_URL = re.compile(r"https?://[^\s()<>\[\]]+[^\s()<>\[\].,;:!?'\"]")


def client_reply_text(text: str, base: str = "") -> str:
    """A reply as the client reads it: links to a corpus article's crawled source (the
    demo's corpus site, an internal host) point at the service's own public article page,
    `base` + /corpus/<slug>/, instead. This is done where the reply is shown, not at
    approval, so the stored final text stays exactly what the counsellor approved (the
    audit and the exports compare it with the draft), and replies delivered before this
    change are shown right too."""
    from django.urls import reverse

    from retrieval.models import Article

    found = set(_URL.findall(text))
    if not found:
        return text
    candidates = found | {u.rstrip("/") for u in found} | {u.rstrip("/") + "/" for u in found}
    slugs = {url.rstrip("/"): slug for url, slug in
             Article.objects.filter(url__in=candidates).values_list("url", "slug")}

    def public(match: re.Match[str]) -> str:
        slug = slugs.get(match.group(0).rstrip("/"))
        return base + reverse("article", kwargs={"slug": slug}) if slug else match.group(0)

    return _URL.sub(public, text) if slugs else text


# What the tracking page and the API tell a client who asked for a reply without AI.
HUMAN_ONLY_NOTICE = "You asked for a reply written by a counsellor without AI."


def reply_disclosure(question: Question) -> str:
    """The line shown with a delivered reply: how it was written. A client who asked for
    no AI is never told that AI drafted it (no model ever saw their question)."""
    return settings.HUMAN_ONLY_DISCLOSURE if question.human_only else settings.AI_DISCLOSURE


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
    waiting (queued, not yet slow), drafted, human_only (the client asked for a reply
    without AI: no draft ever comes), or closed. For slow, failed and human_only the
    console offers "write without a draft"."""
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
    elif question.human_only:
        state = "human_only"
        message = ("The client asked for a reply without AI: write it yourself. The model "
                   "never drafts this question.")
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
        "offer_write_without_draft": state in ("slow", "failed", "human_only"),
        "slow_at": None if has_draft or question.human_only else slow_at,
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


# --- the rubric, double annotation and agreement -----------------------------------------
# The functions below read the prefetch cache where the caller filled it: an export that
# prefetches "annotations", "annotation_assignments" and "adjudications" on its reviews
# calls rubric_for_export() without another query.

def current_annotations(review: Review) -> list[Annotation]:
    """Each author's current (not superseded) annotation of the review, oldest first."""
    rows = [a for a in review.annotations.all() if a.superseded_at is None]
    return sorted(rows, key=lambda a: (a.created_at, a.pk))


def annotation_history(review: Review, user: AbstractBaseUser) -> list[Annotation]:
    """The user's own annotations of the review, newest (current) first."""
    return sorted((a for a in review.annotations.all() if a.author_id == user.pk),
                  key=lambda a: (a.created_at, a.pk), reverse=True)


def my_annotation(review: Review, user: AbstractBaseUser) -> Annotation | None:
    return next((a for a in current_annotations(review) if a.author_id == user.pk), None)


def open_assignment(review: Review, user: AbstractBaseUser) -> AnnotationAssignment | None:
    """The user's second-annotation assignment for this review, while not yet done."""
    return next((a for a in review.annotation_assignments.all()
                 if a.annotator_id == user.pk and a.completed_at is None), None)


def is_blind(review: Review, user: AbstractBaseUser) -> bool:
    """True while the user is an assigned second annotator who has not submitted: the
    console and the API then show them no other annotation of the review."""
    return open_assignment(review, user) is not None


def visible_annotations(review: Review, user: AbstractBaseUser) -> list[Annotation]:
    if is_blind(review, user):
        return [a for a in current_annotations(review) if a.author_id == user.pk]
    return current_annotations(review)


def annotation_assignments(user: AbstractBaseUser, *, open_only: bool = True
                           ) -> QuerySet[AnnotationAssignment]:
    """"Annotations assigned to me": open ones first, oldest first."""
    found = (AnnotationAssignment.objects.filter(annotator=user)
             .select_related("review__question", "assigned_by"))
    if open_only:
        found = found.filter(completed_at__isnull=True)
    return found.order_by(F("completed_at").desc(nulls_first=True), "created_at", "id")


def open_assignment_count(user: AbstractBaseUser) -> int:
    return AnnotationAssignment.objects.filter(annotator=user,
                                               completed_at__isnull=True).count()


def reviews_for_second_annotation() -> QuerySet[Review]:
    """Approved replies not yet sent for a second annotation."""
    return (Review.objects.filter(decision=Review.Decision.APPROVED)
            .exclude(annotation_assignments__isnull=False)
            .select_related("question", "reviewer").order_by("created_at", "id"))


def live_claims(user: AbstractBaseUser, now: datetime) -> QuerySet[Question]:
    """The claims `user` holds now. A lapsed claim is not counted: anyone may take it
    over, and its holder must claim it again to act on it."""
    return Question.objects.filter(status=Status.IN_REVIEW, claimed_by=user,
                                   claim_expires_at__gte=now)


def counsellors() -> QuerySet[Any]:
    """Active console users who may hold a claim: whom a supervisor can reassign one to.
    (The same people as `annotators`.)"""
    return annotators()


def annotators() -> QuerySet[Any]:
    """Active console users who can annotate: the candidates for a second annotation."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    perm = Permission.objects.get(content_type__app_label="questions",
                                  codename="claim_question")
    return (get_user_model().objects.filter(is_active=True)
            .filter(Q(groups__permissions=perm) | Q(user_permissions=perm)
                    | Q(is_superuser=True))
            .distinct().order_by("username"))


def _first_author_id(review: Review, annotations: list[Annotation],
                     assigned: set[int]) -> int | None:
    """The first (non-blind) annotator: the reviewer if they annotated, else the earliest
    author who was not an assigned second annotator."""
    authors = [a.author_id for a in sorted(annotations, key=lambda a: (a.created_at, a.pk))
               if a.author_id not in assigned]
    if review.reviewer_id in authors:
        return review.reviewer_id
    return authors[0] if authors else None


@dataclass
class DoubleAnnotation:
    """One doubly-annotated review, with the values that are compared: the second
    annotators' blind annotations, and the first annotator's annotation as it stood when
    the first blind one was submitted (so a revision made after seeing the second does not
    count as agreement); their earliest if they annotated only afterwards."""

    review: Review
    first: Annotation | None
    seconds: list[Annotation] = field(default_factory=list)

    @property
    def compared(self) -> list[Annotation]:
        return ([self.first] if self.first is not None else []) + self.seconds

    def values(self, dimension: str) -> list[int | bool | None]:
        return [getattr(a, dimension) for a in self.compared]


def _double_annotation(review: Review) -> DoubleAnnotation | None:
    done = {a.annotator_id for a in review.annotation_assignments.all()
            if a.completed_at is not None}
    if not done:
        return None
    rows = list(review.annotations.all())
    seconds = sorted((a for a in rows if a.blind and a.author_id in done),
                     key=lambda a: (a.created_at, a.pk))
    assigned = {a.annotator_id for a in review.annotation_assignments.all()}
    first_id = _first_author_id(review, rows, assigned)
    first = None
    if first_id is not None:
        chain = sorted((a for a in rows if a.author_id == first_id),
                       key=lambda a: (a.created_at, a.pk))
        cutoff = seconds[0].created_at if seconds else None
        before = [a for a in chain if cutoff is None or a.created_at <= cutoff]
        first = before[-1] if before else chain[0]
    return DoubleAnnotation(review, first, seconds)


def double_annotations() -> list[DoubleAnnotation]:
    """Every review with at least one completed blind second annotation."""
    reviews = (Review.objects.filter(annotation_assignments__completed_at__isnull=False)
               .distinct().select_related("question", "reviewer")
               .prefetch_related("annotations__author", "annotation_assignments",
                                 "adjudications")
               .order_by("created_at", "id"))
    found = (_double_annotation(r) for r in reviews)
    return [d for d in found if d is not None and len(d.compared) >= 2]


def reliability_data(items: list[DoubleAnnotation] | None = None
                     ) -> dict[str, list[list[int | bool | None]]]:
    """The agreement's input for every dimension, in the `krippendorff` package's layout:
    one row per annotator slot (first, second, third...), one column per doubly-annotated
    review, None where a value is missing."""
    items = double_annotations() if items is None else items
    slots = max((len(d.compared) for d in items), default=0)
    return {dimension: [[d.values(dimension)[slot] if slot < len(d.compared) else None
                         for d in items] for slot in range(slots)]
            for dimension in rubric.NAMES}


def _latest_adjudications(review: Review) -> dict[str, Adjudication]:
    latest: dict[str, Adjudication] = {}
    for row in sorted(review.adjudications.all(), key=lambda a: (a.created_at, a.pk)):
        latest[row.dimension] = row
    return latest


@dataclass
class Disagreement:
    review: Review
    dimension: str
    values: list[tuple[str, int | bool]]  # (annotator, value)
    adjudication: Adjudication | None

    @property
    def label(self) -> str:
        return rubric.BY_NAME[self.dimension].label

    @property
    def is_open(self) -> bool:
        return self.adjudication is None


def disagreements(items: list[DoubleAnnotation] | None = None, *, open_only: bool = False
                  ) -> list[Disagreement]:
    """Dimensions where the compared annotations of a review are more than one point apart
    (ordinal) or differ at all (nominal), with the adjudication if there is one."""
    items = double_annotations() if items is None else items
    found = []
    for item in items:
        adjudicated = _latest_adjudications(item.review)
        for dimension in rubric.NAMES:
            values = item.values(dimension)
            if not rubric.is_disagreement(dimension, values):
                continue
            ruling = adjudicated.get(dimension)
            if open_only and ruling is not None:
                continue
            labelled = [(a.author.get_full_name() or a.author.get_username(),
                         getattr(a, dimension)) for a in item.compared
                        if getattr(a, dimension) is not None]
            found.append(Disagreement(item.review, dimension, labelled, ruling))
    return found


def agreement_summary() -> dict[str, Any]:
    """Per dimension: Krippendorff's alpha over the doubly-annotated reviews, how many
    items it rests on, and how many disagreements there are, open and adjudicated. For the
    staff page and every export's dataset card (plain JSON types only)."""
    from psyconsole.questions.agreement import METHOD, agreement

    items = double_annotations()
    results = agreement(reliability_data(items))
    listed = disagreements(items)
    dimensions = {}
    for dimension in rubric.NAMES:
        result = results[dimension]
        mine = [d for d in listed if d.dimension == dimension]
        dimensions[dimension] = {
            "label": rubric.BY_NAME[dimension].label,
            "level": result.level,
            "alpha": None if result.alpha is None else round(result.alpha, 4),
            "n_items": result.n_items,
            "n_values": result.n_values,
            "note": result.note,
            "n_disagreements": len(mine),
            "n_disagreements_open": sum(d.is_open for d in mine),
            "n_adjudicated": sum(not d.is_open for d in mine),
        }
    return {
        "method": METHOD,
        "n_doubly_annotated": len(items),
        "ordinal_tolerance": rubric.ORDINAL_TOLERANCE,
        "compared": "the first annotator's annotation as it stood when the blind second "
                    "annotation was submitted, against the blind second annotation(s)",
        "dimensions": dimensions,
    }


def rubric_for_export(review: Review, *, withhold_disputed: bool = True
                      ) -> dict[str, int | bool | None]:
    """The review's rubric as it is exported, one value per dimension (`rubric.NAMES`):

    1. the latest adjudicated value, where a supervisor ruled on the dimension;
    2. None while the dimension is an open disagreement (more than one point apart, or
       differing yes/no) awaiting adjudication: a disputed value is not training data
       (`withhold_disputed=False` exports the first annotator's value instead);
    3. the first (non-blind) annotator's current value: the reviewer's, else the earliest
       annotator who was not an assigned second;
    4. where the first annotator left it unrated (or there is none), the second
       annotators' current values: the one value, or for several the lower median
       (ordinal) or the value they agree on (nominal; None if they differ);
    5. None when nobody rated it.
    """
    from statistics import median_low

    current = current_annotations(review)
    assigned = {a.annotator_id for a in review.annotation_assignments.all()}
    first_id = _first_author_id(review, current, assigned)
    first = next((a for a in current if a.author_id == first_id), None)
    seconds = [a for a in current if a.author_id in assigned]
    adjudicated = _latest_adjudications(review)
    double = _double_annotation(review) if withhold_disputed else None
    exported: dict[str, int | bool | None] = {}
    for dimension in rubric.NAMES:
        if dimension in adjudicated:
            exported[dimension] = rubric.from_number(dimension,
                                                     adjudicated[dimension].value)
            continue
        if double is not None and rubric.is_disagreement(dimension, double.values(dimension)):
            exported[dimension] = None
            continue
        value = getattr(first, dimension) if first is not None else None
        if value is None:
            others = [getattr(a, dimension) for a in seconds
                      if getattr(a, dimension) is not None]
            if len(set(others)) == 1:
                value = others[0]
            elif others and rubric.BY_NAME[dimension].level == rubric.ORDINAL:
                value = median_low(others)
        exported[dimension] = value
    return exported
