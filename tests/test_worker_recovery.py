"""Recovery in seconds: a live worker's drafting leases are renewed by a heartbeat, a
dead worker's lapse within a lease, and the sweeper finds tasks the broker lost. The
fault test runs real worker processes on the real Redis and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from django.conf import settings as live_settings
from django.utils import timezone

from psyconsole.questions.models import AuditEvent, Draft, Question, Status
from psyconsole.questions.services import drafting, intake, review
from psyconsole.questions.tasks import draft_question
from psyconsole.screening.levels import is_crisis
from tests.live import WorkerProcess

LEASE_SECONDS = 3  # heartbeats every second
CALM = ["I can't fall asleep at night", "I feel lonely since I moved",
        "Exams stress me out and I can't focus"]
CRISIS = "I want to kill myself tonight"


def _wait(condition: Any, timeout: float, what: str, worker: WorkerProcess | None = None) -> float:
    """Polls `condition` until it is true; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout} s" + (f":\n{worker.tail()}"
                                                             if worker else ""))


@pytest.fixture
def worker_env(worker_env: dict[str, str], settings: Any) -> dict[str, str]:
    # The test process's own sweeps use the same short lease as the workers.
    settings.DRAFT_LEASE_SECONDS = LEASE_SECONDS
    settings.DRAFT_REQUEUE_AFTER_SECONDS = 1
    return {**worker_env, "PSY_DRAFT_LEASE_SECONDS": str(LEASE_SECONDS),
            "PSY_DRAFT_REQUEUE_AFTER_SECONDS": "1", "PSY_DRAFT_SWEEP_SECONDS": "1"}


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        # The test is over and the broker drained: no warm stop to wait for. The group
        # takes the embedded beat with it.
        worker.kill()


def _leases(ids: list[int]) -> dict[int, datetime | None]:
    return dict(Question.objects.filter(pk__in=ids)
                .values_list("pk", "drafting_lease_expires_at"))


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_nothing_and_drafts_nothing_twice(
        worker_env, workers, counsellor, tmp_path):
    calm = [intake.do_submit_question(text).question.pk for text in CALM]
    # Long drafts: the batch is still being written when the worker dies.
    doomed = WorkerProcess({**worker_env, "PSY_LLM_MAX_NEW_TOKENS": "4000"}, own_group=True)
    workers.append(doomed)
    _wait(lambda: Question.objects.filter(pk__in=calm, status=Status.DRAFTING).count() == 3,
          90, "the batch drafting", doomed)
    first_leases = _leases(calm)
    # A crisis question arrives while the only worker is busy: its task waits.
    crisis = intake.do_submit_question(CRISIS).question
    assert is_crisis(crisis.risk_level)

    # Past the first lease, the heartbeat has kept the batch the live worker's: the
    # sweeper takes nothing away from it.
    time.sleep(LEASE_SECONDS + 1.5)
    assert doomed.process.poll() is None
    assert not set(drafting.do_sweep_stuck_drafts()) & set(calm)
    renewed = _leases(calm)
    assert Question.objects.filter(pk__in=calm, status=Status.DRAFTING).count() == 3
    assert all(renewed[pk] > first_leases[pk] for pk in calm)
    assert all(renewed[pk] > timezone.now() for pk in calm)

    doomed.kill()
    killed_at, killed_wall = time.monotonic(), time.time()
    rescuer = WorkerProcess(worker_env, "--beat", "--schedule", str(tmp_path / "beat-schedule"),
                            own_group=True)
    workers.append(rescuer)

    # No heartbeat any more: every lease lapses within one lease of the kill, and the
    # crisis question can be claimed by a counsellor (it never waited on the model).
    _wait(lambda: all(lease is None or lease < timezone.now()
                      for lease in _leases(calm).values()),
          LEASE_SECONDS + 1, "the dead worker's leases lapsing")
    review.do_claim(crisis, counsellor)
    assert time.monotonic() - killed_at < LEASE_SECONDS + 2

    # The rescuer's beat sweeps, and it drafts every question.
    everyone = [*calm, crisis.pk]
    _wait(lambda: Draft.objects.filter(question_id__in=everyone)
          .values("question_id").distinct().count() == 4, 60, "every question drafted",
          rescuer)
    # Every task the rescuer was given (the requeued, the queued, the duplicates) has
    # run before the counting.
    _wait(lambda: drafting._draft_tasks_in_broker(time.time() - killed_wall) == set(),
          30, "the broker drained", rescuer)

    for pk in everyone:
        assert Draft.objects.filter(question_id=pk).count() == 1
        assert AuditEvent.objects.filter(question_id=pk, action="drafted").count() == 1
        assert Draft.objects.get(question_id=pk).model_version.name == "tiny-smollm2"
    assert set(Question.objects.filter(pk__in=calm).values_list("status", flat=True)) == {
        Status.DRAFTED}
    crisis.refresh_from_db()
    assert crisis.status == Status.IN_REVIEW and crisis.claimed_by == counsellor
    assert crisis.drafting_lease_expires_at is None
    # Each taken back from the dead worker once, and nothing from the live one.
    expired = sorted(AuditEvent.objects.filter(question_id__in=everyone,
                                               action="draft_lease_expired")
                     .values_list("question_id", flat=True))
    assert expired == sorted(calm)


# --- lost broker tasks, without a worker -------------------------------------------

def _broker() -> redis.Redis:
    return redis.Redis.from_url(live_settings.REDIS_URL)


def _queue_key(priority: int) -> str:
    queue = live_settings.CELERY_TASK_DEFAULT_QUEUE
    sep = live_settings.CELERY_BROKER_TRANSPORT_OPTIONS["sep"]
    return f"{queue}{sep}{priority}" if priority else queue


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    client = _broker()
    for priority in range(10):
        client.delete(_queue_key(priority))
    yield client
    for priority in range(10):
        client.delete(_queue_key(priority))


def _taken_by_a_worker(client: redis.Redis, question_id: int, seconds_ago: float) -> str:
    """Leaves the broker as a worker leaves it when it takes a task and has not
    acknowledged it (kombu's layout: the `unacked` hash and its index of delivery
    times). Returns the delivery tag."""
    draft_question.apply_async((question_id,), priority=6)
    raw = client.lpop(_queue_key(6))  # the message just published (a worker takes the oldest)
    payload = json.loads(raw)
    tag = payload["properties"]["delivery_tag"]
    client.hset("unacked", tag, json.dumps([payload, "", live_settings.CELERY_TASK_DEFAULT_QUEUE]))
    client.zadd("unacked_index", {tag: time.time() - seconds_ago})
    return tag


@pytest.mark.django_db
def test_the_sweeper_requeues_only_the_tasks_the_broker_lost(settings, broker):
    settings.DRAFT_REQUEUE_AFTER_SECONDS = 30
    waiting, taken, lost, dead = (intake.do_submit_question(f"I feel low, week {n}").question
                                  for n in range(4))
    # All four have waited long enough; only the broker can tell them apart.
    Question.objects.filter(pk__in=[waiting.pk, taken.pk, lost.pk, dead.pk]).update(
        updated_at=timezone.now() - timedelta(hours=1))
    draft_question.apply_async((waiting.pk,), priority=6)  # its turn has not come
    tags = [_taken_by_a_worker(broker, taken.pk, seconds_ago=2),  # being drafted now
            # Taken ten minutes ago and never leased: that worker died first.
            _taken_by_a_worker(broker, dead.pk, seconds_ago=600)]
    try:
        assert sorted(drafting.do_sweep_stuck_drafts()) == sorted([lost.pk, dead.pk])
        # Requeued ones wait a full interval again; the others are still not lost.
        assert drafting.do_sweep_stuck_drafts() == []
    finally:
        broker.hdel("unacked", *tags)
        broker.zrem("unacked_index", *tags)


@pytest.mark.django_db
def test_the_sweeper_requeues_every_waiting_question_when_the_broker_is_unreadable(
        settings, monkeypatch):
    # Safe because drafting is idempotent; better a duplicate task than a lost one.
    settings.DRAFT_REQUEUE_AFTER_SECONDS = -1
    question = intake.do_submit_question("I feel low").question
    draft_question.apply_async((question.pk,), priority=6)
    monkeypatch.setattr(draft_question.app.conf, "broker_read_url", "redis://127.0.0.1:9/0")
    try:
        assert drafting.do_sweep_stuck_drafts() == [question.pk]
    finally:
        _broker().delete(_queue_key(6))
