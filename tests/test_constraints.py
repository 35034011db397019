"""Integrity the database enforces, whatever the code above it does."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from psyconsole.questions import states
from psyconsole.questions.models import Annotation, Question, Review

pytestmark = pytest.mark.django_db


@pytest.fixture
def question() -> Question:
    return states.create_received(actor=states.CLIENT, text="Hello")


def test_a_question_has_at_most_one_approved_reply(question, counsellor):
    Review.objects.create(question=question, reviewer=counsellor, decision="approved",
                          final_text="First")
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(question=question, reviewer=counsellor, decision="approved",
                              final_text="Second")


def test_rejections_do_not_count_against_the_approved_reply(question, counsellor):
    Review.objects.create(question=question, reviewer=counsellor, decision="rejected",
                          reason="spam")
    Review.objects.create(question=question, reviewer=counsellor, decision="approved",
                          final_text="Reply")
    assert question.reviews.count() == 2


def test_an_approved_reply_cannot_be_empty(question, counsellor):
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(question=question, reviewer=counsellor, decision="approved",
                              final_text="")


def test_a_question_cannot_have_empty_text():
    with pytest.raises(IntegrityError), transaction.atomic():
        Question.objects.create(text="")


def test_a_claim_always_has_a_lease(question, counsellor):
    with pytest.raises(IntegrityError), transaction.atomic():
        Question.objects.filter(pk=question.pk).update(claimed_by=counsellor)


def test_annotation_ratings_are_one_to_five(question, counsellor):
    review = Review.objects.create(question=question, reviewer=counsellor,
                                   decision="approved", final_text="Reply")
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotation.objects.create(review=review, author=counsellor, helpfulness=9)
