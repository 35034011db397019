"""Queued drafts are generated together in one batch; crisis questions never wait."""

from __future__ import annotations

import pytest

from inference.generation import generate_batch
from inference.loading import get_model
from inference.prompts import build_messages
from inference.versions import active_spec
from psyconsole.questions.models import Draft, Question, Status
from psyconsole.questions.services import drafting, intake

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(tiny_model, corpus_index, settings):
    settings.DRAFT_BATCH_SIZE = 3


def _submit(text: str) -> Question:
    return intake.do_submit_question(text).question


def test_waiting_questions_are_drafted_together(ready):
    first, second, third = (_submit(t) for t in (
        "I can't fall asleep at night", "I feel lonely since I moved", "Exams stress me out"))
    drafts = drafting.do_generate_draft(first.pk)
    assert len(drafts) == 1
    for question in (first, second, third):
        question.refresh_from_db()
        assert question.status == Status.DRAFTED
        (draft,) = Draft.objects.filter(question=question)
        assert draft.timings["batch_size"] == 3
        assert draft.completion_tokens > 0
    # The other questions' own tasks find them drafted and do nothing.
    assert drafting.do_generate_draft(second.pk) == []
    assert Draft.objects.count() == 3


def test_a_batch_takes_no_more_than_its_size(ready):
    questions = [_submit(f"I feel low about work, week {n}") for n in range(5)]
    drafting.do_generate_draft(questions[0].pk)
    statuses = [Question.objects.get(pk=q.pk).status for q in questions]
    assert statuses.count(Status.DRAFTED) == 3
    assert statuses.count(Status.SCREENED) == 2


def test_a_crisis_question_is_drafted_alone_and_never_batched_in(ready):
    crisis = _submit("I'm going to kill myself tonight")
    calm = _submit("How do I sleep better?")
    assert crisis.risk_level == "imminent"
    drafting.do_generate_draft(calm.pk)
    crisis.refresh_from_db()
    assert crisis.status == Status.SCREENED  # left for its own, top-priority task
    (draft,) = drafting.do_generate_draft(crisis.pk)
    assert "batch_size" not in draft.timings


def test_batch_size_one_drafts_each_question_alone(ready, settings):
    settings.DRAFT_BATCH_SIZE = 1
    first, second = _submit("I feel anxious"), _submit("I feel tired")
    drafting.do_generate_draft(first.pk)
    second.refresh_from_db()
    assert second.status == Status.SCREENED


def test_each_row_of_a_batch_streams_and_cancels_on_its_own(tiny_model):
    loaded = get_model(active_spec())
    streamed: list[list[str]] = [[], []]
    results = generate_batch(
        loaded, [build_messages("How can I sleep?", []), build_messages("Tips for stress?", [])],
        max_new_tokens=12,
        on_text=[streamed[0].append, streamed[1].append],
        should_stop=[None, lambda: True])
    assert not results[0].cancelled and results[1].cancelled
    assert results[1].completion_tokens < results[0].completion_tokens
    assert streamed[0] and streamed[0][-1].strip() == results[0].text
