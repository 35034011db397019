"""A question whose client asked for a reply without AI (`human_only`) never reaches the
model: no draft task is queued for it, the drafting service refuses it if a task comes
anyway, batches and the sweeper leave it alone, and a redraft is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inference.drafting import ComposedDraft
from psyconsole.celery import app
from psyconsole.questions import states
from psyconsole.questions.models import AuditEvent, Draft, Question, Status
from psyconsole.questions.services import drafting
from psyconsole.questions.tasks import draft_question

pytestmark = pytest.mark.django_db

URL = "/api/v1/questions"
TEXT = "I can't sleep before exams and I'd like a person to answer."


@pytest.fixture
def empty_broker():
    """The real broker queue, emptied before and after: what this test queued is all
    that is in it."""
    app.control.purge()
    yield
    app.control.purge()


def _submit(api, text: str, **fields) -> Question:
    response = api.post_json(URL, {"text": text, **fields})
    assert response.status_code == 201, response.content
    return Question.objects.get(pk=response.json()["id"])


def test_it_queues_no_draft_task_for_a_human_only_question(
        api, empty_broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ordinary = _submit(api, "I feel stressed about work.")
        human_only = _submit(api, TEXT, human_only=True)
    assert human_only.human_only is True
    queued = drafting._draft_tasks_in_broker(3600)
    assert queued is not None, "the broker could not be read"
    assert ordinary.pk in queued  # the broker is read: an ordinary question is queued
    assert human_only.pk not in queued


def test_screening_runs_for_it_as_for_any_question(api, django_capture_on_commit_callbacks):
    question = _submit(api, "I want to end my life tonight.", human_only=True)
    plain = _submit(api, "I want to end my life tonight, please help.")
    assert question.status == Status.SCREENED
    assert question.is_crisis and question.risk_level == plain.risk_level
    assert question.priority == plain.priority


def test_the_drafting_task_writes_no_draft_for_it(api):
    question = _submit(api, TEXT, human_only=True)
    # The real entry point a worker runs for a task that arrives anyway.
    assert draft_question(question.pk) == 0
    assert drafting.do_generate_draft(question.pk, redraft=True) == []
    question.refresh_from_db()
    assert question.status == Status.SCREENED
    assert question.drafting_lease_expires_at is None
    assert not Draft.objects.filter(question=question).exists()
    assert not question.audit_events.filter(action__in=["drafting", "drafted"]).exists()


def test_a_draft_written_for_it_anyway_is_discarded(api):
    question = _submit(api, TEXT, human_only=True)
    lease = timezone.now() + timedelta(seconds=60)
    # As if some path had leased it (demo seeding does this by hand).
    states.start_drafting(question, states.WORKER, lease, from_states={Status.SCREENED})
    stored = drafting.do_store_drafts(question, lease, [ComposedDraft(
        text="A draft.", raw_text="A draft.", messages=[], passages=[], model_name="m")])
    assert stored == []
    assert not Draft.objects.filter(question=question).exists()
    question.refresh_from_db()
    assert question.status == Status.SCREENED and question.drafting_lease_expires_at is None


def test_a_batch_never_takes_it(api):
    human_only = _submit(api, TEXT, human_only=True)
    ordinary = _submit(api, "Exams make me tense.")
    taken = [q.pk for q, _ in drafting._take_waiting_questions(5, set())]
    assert ordinary.pk in taken
    assert human_only.pk not in taken


def test_the_sweeper_never_requeues_it(api, settings, empty_broker):
    human_only = _submit(api, TEXT, human_only=True)
    ordinary = _submit(api, "Exams make me tense.")
    long_ago = timezone.now() - timedelta(seconds=settings.DRAFT_REQUEUE_AFTER_SECONDS + 60)
    Question.objects.filter(pk__in=[human_only.pk, ordinary.pk]).update(updated_at=long_ago)
    requeued = drafting.do_sweep_stuck_drafts()
    assert ordinary.pk in requeued  # waiting with no task in the broker: requeued
    assert human_only.pk not in requeued


def test_the_api_refuses_a_redraft(api, staff_api):
    question = _submit(api, TEXT, human_only=True)
    response = staff_api.post_json(f"/api/v1/console/questions/{question.pk}/redraft",
                                   {"instruction": "shorter"})
    assert response.status_code == 409
    assert "without AI" in response.json()["detail"]
    assert not AuditEvent.objects.filter(question=question,
                                         action="redraft_requested").exists()


def test_the_console_refuses_a_redraft(api, client, counsellor):
    question = _submit(api, TEXT, human_only=True)
    client.force_login(counsellor)
    response = client.post(f"/console/questions/{question.pk}/redraft/",
                           {"instruction": "", "candidates": "1"}, follow=True)
    assert "The client asked for a reply written without AI" in response.content.decode()
    assert not AuditEvent.objects.filter(question=question,
                                         action="redraft_requested").exists()
