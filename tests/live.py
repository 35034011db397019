"""Real processes for tests that need more than the test client: a Celery worker and
the ASGI server (daphne), both on the test database and Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

from django.conf import settings

from tests.factories import ROOT


def database_url() -> str:
    """The test database (pytest-django renames it), for a child process's DATABASE_URL."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoggedProcess:
    """A child process whose output is kept, so a test can wait for a line and a failure
    can show the last ones."""

    def __init__(self, command: list[str], env: dict[str, str], *,
                 own_group: bool = False) -> None:
        """`own_group` starts it in a process group of its own, so that `kill` takes its
        children (a worker's embedded beat) with it."""
        self.lines: list[str] = []
        self.own_group = own_group
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True,
                                        start_new_session=own_group)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def tail(self, n: int = 40) -> str:
        return "".join(self.lines[-n:])

    def wait_for(self, fragment: str, count: int = 1, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(fragment in line for line in self.lines) >= count:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"never logged {fragment!r}:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL, with no chance to clean up or give anything back."""
        if self.process.poll() is None:
            if self.own_group:
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class WorkerProcess(LoggedProcess):
    """A real Celery worker process (solo pool, as `rundemo` and production run it);
    `extra` are more worker options (`--beat ...`)."""

    def __init__(self, env: dict[str, str], *extra: str, own_group: bool = False) -> None:
        super().__init__([sys.executable, "-m", "celery", "-A", "psyconsole", "worker",
                          "--pool=solo", "--without-gossip", "--without-mingle",
                          "--without-heartbeat", "-l", "INFO", *extra], env,
                         own_group=own_group)


class ConsoleServer(LoggedProcess):
    """daphne serving the whole app (pages, API, websockets), as `rundemo` runs it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p",
                          str(self.port), "psyconsole.asgi:application"], env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.3)
        self.stop()
        raise AssertionError(f"daphne did not answer /healthz:\n{self.tail()}")


# A child process counts its requests in the shared Redis, where the per-test counters of
# tests/conftest.py do not reach: tests of other things must not meet the rate limits.
UNTHROTTLED = {"PSY_INTAKE_RATE": "10000/m", "PSY_INTAKE_IP_RATE": "10000/m",
               "PSY_TOKEN_RATE": "10000/m"}


def wait_for_status(question_id: int, status: str, timeout: float = 120,
                    worker: LoggedProcess | None = None) -> Any:
    """Polls the database until the question reaches `status`; on a timeout the message
    says where it is, with the worker's last lines if one is given."""
    from psyconsole.questions.models import Question

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        question = Question.objects.get(pk=question_id)
        if question.status == status:
            return question
        time.sleep(0.3)
    raise AssertionError(f"question #{question_id} is {question.status}, not {status}"
                         + (f":\n{worker.tail()}" if worker else ""))


def child_env(**overrides: str) -> dict[str, str]:
    return {**os.environ, **UNTHROTTLED, "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL, **overrides}
