"""A Redis restart with drafting tasks queued loses no question: the sweeper requeues
what the broker forgot, and every question gets exactly one first draft.

The harsh case: a Redis that keeps nothing on disk (`--save "" --appendonly no`, as a
cache-style deployment runs it), so the queued tasks are gone after the restart and
only the sweeper (`do_sweep_stuck_drafts`, run by the worker's embedded beat) can bring
them back. Before it came within PSY_DRAFT_REQUEUE_AFTER_SECONDS + PSY_DRAFT_SWEEP_SECONDS
(30 + 30 s by default), the issue asked for "all drafted within 2 minutes"; the test runs
the same path with 2 s and 1 s, so it takes seconds.

The machine's shared Redis is never touched: the test starts a private redis-server on a
free port and restarts that one. Everything that talks to the broker runs in a child
process pointed at it through REDIS_URL: daphne (the questions arrive over HTTP, and
intake queues their tasks) and the worker. The test process's Celery app keeps its own
broker, configured once at import; repointing it mid-session would leak into the tests
that run after this one on the same xdist worker. The test process only reads the test
database (pytest-django's, shared with the children) and the private Redis."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

from psyconsole.questions.models import AuditEvent, Draft, Question, Status
from psyconsole.screening.levels import is_crisis
from tests.live import ConsoleServer, LoggedProcess, WorkerProcess, free_port

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
QUESTIONS = ["I can't fall asleep at night", "I feel lonely since I moved",
             "Exams stress me out and I can't focus", "I want to kill myself tonight"]
# The bound, from the restart to the last first draft.
DRAFTED_WITHIN_SECONDS = 120


class PrivateRedis:
    """A redis-server of the test's own that keeps nothing on disk, so a restart loses
    everything in it, as a restarted cache-style Redis does."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: LoggedProcess | None = None

    def start(self) -> None:
        self.process = LoggedProcess([REDIS_SERVER, "--port", str(self.port),
                                      "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.directory)],
                                     dict(os.environ))
        self.process.wait_for("Ready to accept connections", timeout=20)

    def kill(self) -> None:
        """SIGKILL: no chance to save anything, as in a crash or an OOM kill."""
        if self.process is not None:
            self.process.kill()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()


def _queued_tasks(client: redis.Redis) -> int:
    """Messages in the drafting queue, over every priority step (kombu's layout)."""
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    sep = settings.CELERY_BROKER_TRANSPORT_OPTIONS["sep"]
    return sum(client.llen(f"{queue}{sep}{step}" if step else queue) for step in range(10))


def _submit(server: ConsoleServer, text: str) -> int:
    request = urllib.request.Request(server.url + "/api/v1/questions",
                                     data=json.dumps({"text": text}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return int(json.load(response)["id"])


def _wait(condition: Any, timeout: float, what: str, process: LoggedProcess) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout} s:\n{process.tail()}")


def test_a_redis_restart_with_tasks_queued_loses_no_question(worker_env, private_redis,
                                                             tmp_path):
    env = {**worker_env, "REDIS_URL": private_redis.url, "PSY_DRAFT_SWEEP_SECONDS": "1",
           "PSY_DRAFT_REQUEUE_AFTER_SECONDS": "2", "PSY_DRAFT_LEASE_SECONDS": "3",
           # Screening by the rules alone, as in the test process (conftest): daphne
           # starts without loading a classifier.
           "PSY_SCREENER_MODEL_PATH": str(tmp_path / "screener"),
           "PSY_SCREENER_SHIPPED_PATH": ""}
    broker = private_redis.client()
    # No worker yet: every question's task waits in the broker.
    server = ConsoleServer(env)
    try:
        ids = [_submit(server, text) for text in QUESTIONS]
    finally:
        server.stop()
    assert is_crisis(Question.objects.get(pk=ids[-1]).risk_level)
    assert _queued_tasks(broker) == len(ids)

    private_redis.kill()
    private_redis.start()
    restarted_at = time.monotonic()
    assert broker.dbsize() == 0  # every queued task is gone

    worker = WorkerProcess(env, "--beat", "--schedule", str(tmp_path / "beat-schedule"),
                           own_group=True)
    try:
        _wait(lambda: Draft.objects.filter(question_id__in=ids)
              .values("question_id").distinct().count() == len(ids),
              DRAFTED_WITHIN_SECONDS - (time.monotonic() - restarted_at),
              "every question drafted", worker)
        worker.wait_for("Requeued drafting", timeout=5)  # the sweeper brought them back
        # Every task the sweeper queued has run before the counting: a duplicate would
        # have had its chance to draft twice.
        _wait(lambda: _queued_tasks(broker) == 0 and broker.hlen("unacked") == 0, 30,
              "the broker drained", worker)
    finally:
        worker.kill()

    for pk in ids:
        assert Draft.objects.filter(question_id=pk).count() == 1
        assert AuditEvent.objects.filter(question_id=pk, action="drafted").count() == 1
    assert set(Question.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        Status.DRAFTED}
