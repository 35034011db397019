"""Annotation: the rubric (`rubric.py`), its revisions, blind second annotations and
the supervisor's adjudication of disagreements. Every action writes an audit event.

Who may do what:
- annotate a review: its reviewer, an annotator assigned to it, or a supervisor
  (`questions.audit_reply`);
- send reviews for a second annotation, and adjudicate: supervisors only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from psyconsole.questions import limits, rubric, selectors, states
from psyconsole.questions.models import (
    Adjudication,
    Annotation,
    AnnotationAssignment,
    Review,
    RiskLevel,
)
from psyconsole.questions.services.checks import check_can, check_text
from psyconsole.questions.states import Actor, TransitionError

SUPERVISE = "questions.audit_reply"


def _check_rating(name: str, value: object) -> int | None:
    low, high = limits.RATING_RANGE
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or not low <= value <= high):
        raise ValidationError({name: f"{name} must be a whole number from {low} to {high}."})
    return value  # type: ignore[return-value]


def _check_yes_no(name: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValidationError({name: f"{name} must be true (yes), false (no) or null."})
    return value


def check_rubric(values: dict[str, object], *, safety: object = None) -> dict[str, Any]:
    """The rubric's values, validated; `safety` (the legacy rating, 5 = safe) is accepted
    as toxicity_or_harm = 6 - safety, and refused if it contradicts toxicity_or_harm."""
    unknown = set(values) - set(rubric.NAMES)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Not a rubric dimension."})
    checked: dict[str, Any] = {}
    for name in rubric.NAMES:
        value = values.get(name)
        checked[name] = (_check_yes_no(name, value) if name in rubric.NOMINAL_NAMES
                         else _check_rating(name, value))
    if safety is not None:
        harm = rubric.legacy_safety_to_harm(_check_rating("safety", safety))
        if checked["toxicity_or_harm"] not in (None, harm):
            raise ValidationError({"safety": "safety (5 = safe) is toxicity_or_harm = 6 - "
                                             "safety; the two given disagree."})
        checked["toxicity_or_harm"] = harm
    return checked


def check_can_annotate(review: Review, user: AbstractBaseUser) -> None:
    check_can(user, "questions.claim_question")
    if review.reviewer_id == user.pk or user.has_perm(SUPERVISE):
        return
    if review.annotation_assignments.filter(annotator=user).exists():
        return
    raise PermissionDenied("Only the reviewer, an annotator assigned to this review or a "
                           "supervisor can annotate it.")


def do_annotate(review: Review, user: AbstractBaseUser, *, tags: list[str] | None = None,
                note: object = "", safety: int | None = None,
                **ratings: int | bool | None) -> Annotation:
    """Saves the user's rubric for the review. Each call is the whole rubric: a second
    call revises the first, as a new row that supersedes it (the old row is kept, with
    `superseded_at`). An assigned second annotator's first submission is blind and
    completes their assignment; from then on they see the other annotations."""
    check_can_annotate(review, user)
    values = check_rubric(ratings, safety=safety)
    note = check_text(note, field="note", max_chars=limits.REASON_MAX_CHARS, required=False)
    tags = [check_text(t, field="tags", max_chars=limits.TAG_MAX_CHARS)
            for t in tags or []][:limits.MAX_TAGS]
    now = timezone.now()
    with transaction.atomic():
        review = Review.objects.select_for_update().select_related("question").get(
            pk=review.pk)
        previous = (Annotation.objects.select_for_update()
                    .filter(review=review, author=user, superseded_at__isnull=True).first())
        assignment = (AnnotationAssignment.objects.select_for_update()
                      .filter(review=review, annotator=user).first())
        blind = assignment is not None and assignment.completed_at is None
        if previous is not None:
            Annotation.objects.filter(pk=previous.pk).update(superseded_at=now)
        annotation = Annotation.objects.create(
            review=review, author=user, tags=tags, note=note, supersedes=previous,
            assignment=assignment, blind=blind, rubric_version=rubric.CURRENT_RUBRIC,
            **values)
        if blind:
            AnnotationAssignment.objects.filter(pk=assignment.pk).update(completed_at=now)
        question = review.question
        data: dict[str, Any] = {"review_id": review.pk, "annotation_id": annotation.pk,
                                "blind": blind,
                                "assignment_id": assignment.pk if assignment else None}
        if previous is not None:
            # Which dimensions changed, not their values: a supervisor who is someone's
            # blind second annotator reads this trail too.
            data["supersedes"] = previous.pk
            data["changed"] = [n for n in (*rubric.NAMES, "tags", "note")
                               if getattr(previous, n) != getattr(annotation, n)]
        states.record_event(question, Actor.of(user),
                            "revise_annotation" if previous is not None else "annotate",
                            from_state=question.status, to_state=question.status, data=data)
    return annotation


def _check_annotator(review: Review, annotator: AbstractBaseUser) -> None:
    if not annotator.is_active or not annotator.has_perm("questions.claim_question"):
        raise ValidationError({"annotator": f"{annotator.get_username()} is not a console "
                                            "user who can annotate."})
    if annotator.pk == review.reviewer_id:
        raise ValidationError({"annotator": "The second annotator must not be the reviewer."})
    if review.annotations.filter(author=annotator).exists():
        raise ValidationError({"annotator": f"{annotator.get_username()} has already "
                                            "annotated this review, so cannot be blind."})


def do_assign_second_annotation(review: Review, user: AbstractBaseUser,
                                annotator: AbstractBaseUser, *, reason: str = "") -> \
        AnnotationAssignment:
    """A supervisor sends an approved reply to a second annotator, who will not see the
    first annotation until they have submitted their own."""
    check_can(user, SUPERVISE)
    if review.decision != Review.Decision.APPROVED:
        raise ValidationError({"review": "Only approved replies are sent for a second "
                                         "annotation."})
    _check_annotator(review, annotator)
    try:
        with transaction.atomic():
            assignment = AnnotationAssignment.objects.create(
                review=review, annotator=annotator, assigned_by=user, reason=reason[:64])
            question = review.question
            states.record_event(question, Actor.of(user), "assign_annotation",
                                from_state=question.status, to_state=question.status,
                                data={"review_id": review.pk, "assignment_id": assignment.pk,
                                      "annotator": annotator.get_username(),
                                      "sampled_for": reason})
    except IntegrityError as exc:
        raise TransitionError(f"{annotator.get_username()} is already assigned to review "
                              f"#{review.pk}.") from exc
    return assignment


@dataclass
class Sample:
    assigned: list[AnnotationAssignment] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # review ids nobody eligible could take
    considered: int = 0


def do_sample_second_annotations(user: AbstractBaseUser, *,
                                 annotators: Sequence[AbstractBaseUser],
                                 share: float = 0.0, risk_levels: Iterable[str] = (),
                                 seed: int | None = None) -> Sample:
    """Sends a sample of approved, not yet doubly-annotated replies for a second
    annotation: every one whose question has one of `risk_levels` (e.g. high and
    imminent), plus a random `share` (0 to 1, rounded up) of the rest. The annotators take
    them in turn, skipping the reviewer and anyone who already annotated the reply."""
    check_can(user, SUPERVISE)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ValidationError({"share": "share must be a fraction from 0 to 1."})
    risk_levels = set(risk_levels)
    if risk_levels - set(RiskLevel.values):
        raise ValidationError({"risk_levels": "risk_levels must be among "
                                              f"{', '.join(RiskLevel.values)}."})
    if not annotators:
        raise ValidationError({"annotators": "Choose at least one annotator."})
    if not share and not risk_levels:
        raise ValidationError({"share": "Give a share, risk levels, or both."})
    candidates = list(selectors.reviews_for_second_annotation())
    risky = [r for r in candidates if r.question.risk_level in risk_levels]
    rest = [r for r in candidates if r.question.risk_level not in risk_levels]
    picked = random.Random(seed).sample(rest, math.ceil(share * len(rest)))
    chosen = [(r, "risk") for r in risky] + [(r, "share") for r in
                                              sorted(picked, key=lambda r: r.pk)]
    sample = Sample(considered=len(candidates))
    turn = 0
    with transaction.atomic():
        for review, reason in chosen:
            for offset in range(len(annotators)):
                annotator = annotators[(turn + offset) % len(annotators)]
                try:
                    _check_annotator(review, annotator)
                except ValidationError:
                    continue
                sample.assigned.append(do_assign_second_annotation(review, user, annotator,
                                                                   reason=reason))
                turn = (turn + offset + 1) % len(annotators)
                break
            else:
                sample.skipped.append(review.pk)
    return sample


def check_adjudicated_value(dimension: object, value: object) -> tuple[str, int]:
    if dimension not in rubric.NAMES:
        raise ValidationError({"dimension": f"dimension must be one of "
                                            f"{', '.join(rubric.NAMES)}."})
    if dimension in rubric.NOMINAL_NAMES:
        if not isinstance(value, bool):
            raise ValidationError({"value": f"{dimension} is yes/no: value must be true or "
                                            "false."})
    elif value is None:
        raise ValidationError({"value": "value is required."})
    else:
        _check_rating("value", value)
    return dimension, rubric.as_number(dimension, value)  # type: ignore[return-value]


def do_adjudicate(review: Review, user: AbstractBaseUser, dimension: object, value: object,
                  reason: object) -> Adjudication:
    """A supervisor rules on one dimension of a doubly-annotated review. The latest ruling
    is the value exported (`selectors.rubric_for_export`); earlier ones are kept."""
    check_can(user, SUPERVISE)
    dimension, number = check_adjudicated_value(dimension, value)
    reason = check_text(reason, field="reason", max_chars=limits.REASON_MAX_CHARS)
    if not review.annotation_assignments.filter(completed_at__isnull=False).exists():
        raise ValidationError({"review": "Only doubly-annotated replies are adjudicated."})
    with transaction.atomic():
        review = Review.objects.select_for_update().select_related("question").get(
            pk=review.pk)
        previous = review.adjudications.filter(dimension=dimension).first()
        ruling = Adjudication.objects.create(review=review, dimension=dimension,
                                             value=number, by=user, reason=reason)
        question = review.question
        states.record_event(question, Actor.of(user), "adjudicate",
                            from_state=question.status, to_state=question.status,
                            reason=reason,
                            data={"review_id": review.pk, "adjudication_id": ruling.pk,
                                  "dimension": dimension, "value": number,
                                  "supersedes": previous.pk if previous else None})
    return ruling
