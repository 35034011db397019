"""A PostgreSQL restart while the worker drafts loses nothing: the worker reconnects,
and every question ends with exactly one first draft.

The machine's shared PostgreSQL is never touched. The test makes a cluster of its own
(initdb in a temporary directory, a free port, fsync off: it is thrown away), migrates
it with `manage.py migrate` in a child process, and runs everything that uses it in
child processes: daphne takes the questions over HTTP, the worker (with its embedded
beat, whose sweeper frees a lapsed lease) drafts them. The test process reads the private
database with psycopg directly; its own Django connection stays on the test database.

initdb and postgres refuse to run as root, and CI runs the tests as root: the server's
commands then run as the `postgres` user (`runuser -u postgres --`), in a directory
under /tmp that user owns (pytest's tmp_path is under a root-only directory)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from django.conf import settings

from tests.factories import ROOT
from tests.live import ConsoleServer, LoggedProcess, WorkerProcess, free_port

QUESTIONS = ["I can't fall asleep at night", "I feel lonely since I moved",
             "Exams stress me out and I can't focus", "I want to kill myself tonight"]
LEASE_SECONDS = 3


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = Path(found[-1]) if found else Path(shutil.which("initdb") or "/nonexistent")
    if not initdb.exists():
        pytest.fail("This test needs the PostgreSQL server binaries (initdb, pg_ctl): "
                    "apt-get install postgresql.")
    return initdb.parent


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.directory = Path(tempfile.mkdtemp(prefix="psy-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/psyconsole"

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run([*self.as_owner, str(self.bin / tool), *args],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise AssertionError(f"{tool} failed:\n{result.stdout}{result.stderr}"
                                 f"{self.server_log()}")

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
                  "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c full_page_writes=off",
                  *args, action)

    def create(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")
        self._pg_ctl("start")
        self._run("createdb", "-h", str(self.directory), "-p", str(self.port), "psyconsole")

    def restart(self) -> None:
        """A fast shutdown (every connection is cut) and a start on the same port."""
        self._pg_ctl("restart", "-m", "fast")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_owner, str(self.bin / "pg_ctl"), "-D", str(self.data),
                            "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)

    def server_log(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture
def private_postgres(worker_env: dict[str, str]) -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    try:
        cluster.create()
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True,
                       env={**worker_env, "DATABASE_URL": cluster.url}, timeout=120)
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def processes() -> Iterator[list[LoggedProcess]]:
    started: list[LoggedProcess] = []
    yield started
    for process in reversed(started):
        process.kill()


def _submit(server: ConsoleServer, text: str) -> int:
    request = urllib.request.Request(server.url + "/api/v1/questions",
                                     data=json.dumps({"text": text}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return int(json.load(response)["id"])


def _wait(condition: Any, timeout: float, what: str, process: LoggedProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout} s:\n{process.tail(80)}")


def _queued_tasks() -> int:
    """Drafting messages waiting or unacknowledged in the (per-xdist-worker) broker."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    sep = settings.CELERY_BROKER_TRANSPORT_OPTIONS["sep"]
    return (sum(client.llen(f"{queue}{sep}{step}" if step else queue) for step in range(10))
            + client.hlen("unacked"))


def test_a_postgres_restart_while_drafting_loses_nothing(worker_env, private_postgres,
                                                         processes, tmp_path):
    db = private_postgres
    env = {**worker_env, "DATABASE_URL": db.url,
           # Long enough drafts that the restart lands while the batch is being written.
           "PSY_LLM_MAX_NEW_TOKENS": "150",
           "PSY_DRAFT_LEASE_SECONDS": str(LEASE_SECONDS), "PSY_DRAFT_SWEEP_SECONDS": "1",
           "PSY_DRAFT_REQUEUE_AFTER_SECONDS": "2",
           "PSY_SCREENER_MODEL_PATH": str(tmp_path / "screener"),
           "PSY_SCREENER_SHIPPED_PATH": ""}
    worker = WorkerProcess(env, "--beat", "--schedule", str(tmp_path / "beat-schedule"),
                           own_group=True)
    processes.append(worker)
    server = ConsoleServer(env)
    processes.append(server)
    worker.wait_for("ready", timeout=60)
    ids = [_submit(server, text) for text in QUESTIONS]

    _wait(lambda: db.query("SELECT count(*) FROM questions_question WHERE status = 'drafting'"
                           )[0][0] > 0, 30, "drafting started", worker)
    db.restart()

    def drafts() -> dict[int, int]:
        return dict(db.query("SELECT question_id, count(*) FROM questions_draft "
                             "WHERE question_id = ANY(%s) GROUP BY question_id", ids))

    _wait(lambda: len(drafts()) == len(ids), 60, "every question drafted after the restart",
          worker)
    # Every task queued meanwhile (the sweeper's requeues among them) has run before the
    # counting: a duplicate has had its chance to draft twice.
    _wait(lambda: _queued_tasks() == 0, 30, "the broker drained", worker)

    assert drafts() == dict.fromkeys(ids, 1)
    drafted = dict(db.query("SELECT question_id, count(*) FROM questions_auditevent "
                            "WHERE action = 'drafted' AND question_id = ANY(%s) "
                            "GROUP BY question_id", ids))
    assert drafted == dict.fromkeys(ids, 1)
    statuses = {status for (status,) in db.query(
        "SELECT status FROM questions_question WHERE id = ANY(%s)", ids)}
    assert statuses == {"drafted"}
    assert worker.process.poll() is None  # the same worker, reconnected
