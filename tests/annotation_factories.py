"""What the rubric, double-annotation and agreement tests share: approved replies, and
annotations made through the services."""

from __future__ import annotations

from typing import Any

from psyconsole.questions.models import Question, Review
from psyconsole.questions.services.annotation import (
    do_annotate,
    do_assign_second_annotation,
)
from psyconsole.questions.services.review import do_approve, do_claim
from tests.factories import make_drafted_question


def approved_review(reviewer: Any, text: str = "I can't sleep before exams.",
                    risk_level: str | None = None) -> Review:
    """A reply approved (and delivered) by `reviewer`; `risk_level` is set afterwards, so
    that the approval itself is not held up by the crisis checks."""
    question = make_drafted_question(text)
    do_claim(question, reviewer)
    review = do_approve(question, reviewer)
    if risk_level is not None:
        Question.objects.filter(pk=question.pk).update(risk_level=risk_level)
        review.question.refresh_from_db()
    return review


def doubly_annotated(reviewer: Any, second: Any, supervisor: Any, first_values: dict,
                     second_values: dict) -> Review:
    """An approved reply the reviewer annotated, then a blind second annotator."""
    review = approved_review(reviewer)
    do_annotate(review, reviewer, **first_values)
    do_assign_second_annotation(review, supervisor, second)
    do_annotate(review, second, **second_values)
    return review
