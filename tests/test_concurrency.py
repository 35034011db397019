"""Races on PostgreSQL: two counsellors can never hold the same claim."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.db import connection

from psyconsole.questions.models import Question, Status
from psyconsole.questions.services import review
from psyconsole.questions.states import TransitionError
from tests.factories import make_drafted_question, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_claims_of_one_question_have_one_winner():
    question = make_drafted_question()
    users = [make_user(f"counsellor{i}", "counsellor") for i in range(8)]
    barrier = Barrier(len(users))

    def claim(user) -> bool:
        try:
            barrier.wait()
            review.do_claim(Question.objects.get(pk=question.pk), user)
            return True
        except TransitionError:
            return False
        finally:
            connection.close()

    with ThreadPoolExecutor(len(users)) as pool:
        outcomes = list(pool.map(claim, users))
    assert outcomes.count(True) == 1
    question.refresh_from_db()
    assert question.status == Status.IN_REVIEW
    assert question.audit_events.filter(action="claim").count() == 1


def test_twenty_parallel_take_next_calls_never_claim_the_same_question():
    questions = [make_drafted_question(f"I feel stressed {i}") for i in range(12)]
    users = [make_user(f"taker{i}", "counsellor") for i in range(20)]
    barrier = Barrier(len(users))

    def take(user) -> int | None:
        try:
            barrier.wait()
            taken = review.do_take_next(user)
            return taken.pk if taken else None
        finally:
            connection.close()

    with ThreadPoolExecutor(len(users)) as pool:
        claimed = [pk for pk in pool.map(take, users) if pk is not None]
    assert len(claimed) == len(set(claimed))  # never the same question twice
    assert sorted(claimed) == sorted(q.pk for q in questions)  # and none left behind
    owners = Question.objects.filter(pk__in=claimed).values_list("claimed_by", flat=True)
    assert len(set(owners)) == len(claimed)
