"""`rundemo`: the whole product on one machine, and a supervisor that stops all of it.

The demo's processes run in their own sessions, so a Ctrl-C at the terminal reaches
only this command, which then stops them in order instead of having them race each
other. The same stop follows SIGTERM (a service manager, `kill`) and SIGHUP (a closed
terminal): whatever way `rundemo` is asked to stop, nothing it started is left running.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from psyconsole import embedded_redis

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(BaseException):
    """The command was asked to stop by a signal. A BaseException, like
    KeyboardInterrupt, so that no `except Exception` on the way out swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _group_running(pgid: int) -> bool:
    """Whether any process of the group still runs. Zombies do not count: they are
    dead, waiting only for a parent (or an init that may never reap them) to read their
    status."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # After the command name in parentheses: state, parent, process group.
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            return True
    return False


class Supervisor:
    """Starts the demo's processes and stops every one of them, with all they started.

    Used as a context manager: inside it, SIGINT, SIGTERM and SIGHUP raise StopRequested
    (deferred while a process is being started, so none is started without being
    recorded), and leaving it, however, stops everything. Each process is a session and
    process group leader, so its own children (the worker's beat and pool processes)
    are found through its group even after it has exited."""

    def __init__(self, env: dict[str, str], *, grace: float = 60.0,
                 straggler_grace: float = 5.0) -> None:
        self.env = env
        self.grace = grace  # a warm stop lets the worker finish the draft in hand
        self.straggler_grace = straggler_grace
        self.processes: list[subprocess.Popen[bytes]] = []
        self._cleanups: list[Callable[[], object]] = []
        self._previous: dict[int, Any] = {}
        self._starting = False
        self._pending: int | None = None
        self._stopping = False
        self._hurry = False

    def __enter__(self) -> Supervisor:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> bool:
        while True:
            try:
                self.stop()
                break
            except StopRequested:
                continue  # a signal just before stop() marked us stopping: stop anyway
        for signum, handler in self._previous.items():
            # None: a handler not set from Python, which cannot be put back as such.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        return exc_type is not None and issubclass(exc_type, StopRequested)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            # Asked again while stopping: wait no longer for a warm stop.
            self._hurry = True
            self._signal_groups(signal.SIGKILL)
            return
        if self._starting:
            self._pending = signum
            return
        raise StopRequested(signum)

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        """Runs `python *command` in its own session."""
        self._starting = True
        try:
            process = subprocess.Popen([sys.executable, *command], env=self.env,
                                       start_new_session=True)
            self.processes.append(process)
        finally:
            self._starting = False
        if self._pending is not None:
            raise StopRequested(self._pending)
        return process

    def at_stop(self, cleanup: Callable[[], object]) -> None:
        """Runs `cleanup` after the processes have stopped (the last added first)."""
        self._cleanups.append(cleanup)

    def wait(self) -> subprocess.Popen[bytes]:
        """Blocks until one of the processes exits, and returns it."""
        while True:
            for process in self.processes:
                if process.poll() is not None:
                    return process
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM to each process, SIGKILL to any still running after `grace` seconds;
        then whatever is left in their process groups (children that outlived their
        parent) gets SIGTERM, and SIGKILL after `straggler_grace`. Then the cleanups."""
        self._stopping = True
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        self._wait_until(time.monotonic() + self.grace,
                         lambda: any(p.poll() is None for p in self.processes))
        for process in self.processes:
            if process.poll() is None:
                self._signal_group(process.pid, signal.SIGKILL)
        self._signal_groups(signal.SIGTERM)
        self._wait_until(time.monotonic() + self.straggler_grace,
                         lambda: any(_group_running(p.pid) for p in self.processes))
        self._signal_groups(signal.SIGKILL)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        while self._cleanups:
            cleanup = self._cleanups.pop()
            try:
                cleanup()
            except Exception:
                logger.warning("A clean-up step of rundemo failed", exc_info=True)

    def _wait_until(self, deadline: float, busy: Callable[[], bool]) -> None:
        while not self._hurry and time.monotonic() < deadline and busy():
            time.sleep(0.1)

    def _signal_groups(self, signum: int) -> None:
        for process in self.processes:
            if _group_running(process.pid):
                self._signal_group(process.pid, signum)

    @staticmethod
    def _signal_group(pgid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)


class Command(BaseCommand):
    help = ("Sets up and runs the whole product locally on the embedded defaults: migrates, "
            "seeds demo data, builds the index, then runs the ASGI server and a Celery "
            "worker until Ctrl-C (or SIGTERM, or SIGHUP), which stops everything it "
            "started.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--corpus-port", type=int,
                            default=int(os.environ.get("CORPUS_PORT", 8001)),
                            help="Port of the static corpus site that the crawler reads.")

    def handle(self, *args: Any, **options: Any) -> None:
        env = {**os.environ, "PSY_HTTPS": os.environ.get("PSY_HTTPS", "0")}
        with Supervisor(env) as supervisor:
            try:
                call_command("migrate", interactive=False, verbosity=0)
                call_command("collectstatic", interactive=False, verbosity=0)
                if settings.USE_EMBEDDED_REDIS:
                    socket = Path(settings.EMBEDDED_REDIS_SOCKET)
                    if not embedded_redis.is_running(socket):
                        # Registered first: a stop during the start still stops it.
                        supervisor.at_stop(lambda: embedded_redis.stop(socket))
                    embedded_redis.ensure_running(socket)
                self._run(supervisor, **options)
            except StopRequested as stop:
                self._say(f"\nStopping ({signal.Signals(stop.signum).name})…")

    def _say(self, text: str) -> None:
        # After a SIGHUP the terminal may be gone; stopping matters more than saying so.
        with contextlib.suppress(OSError, ValueError):
            self.stdout.write(text)

    def _run(self, supervisor: Supervisor, **options: Any) -> None:
        host, port = options["host"], options["port"]
        start, processes = supervisor.start, supervisor.processes

        # The corpus is published as a small static site and crawled into the index,
        # as a real deployment crawls its sources.
        site_dir = Path(settings.VAR_DIR) / "site"
        call_command("build_site", out=site_dir, stdout=io.StringIO())
        corpus_url = f"http://{host}:{options['corpus_port']}/"
        start("-m", "http.server", str(options["corpus_port"]), "--bind", host,
              "--directory", str(site_dir))
        self._wait_for(corpus_url + "robots.txt", processes)
        logins = io.StringIO()
        call_command("seed_demo", corpus_url=corpus_url, stdout=logins)

        start("-m", "daphne", "-b", host, "-p", str(port), "psyconsole.asgi:application")
        # The worker runs the sweeper's clock too (--beat): one beat per deployment frees
        # the drafts of a dead worker and requeues lost tasks.
        start("-m", "celery", "-A", "psyconsole", "worker", "--pool=solo", "--loglevel=INFO",
              "--beat", "--schedule", str(Path(settings.VAR_DIR) / "celerybeat-schedule"))
        url = f"http://{host}:{port}"
        self._wait_for(url + "/healthz", processes)
        self.stdout.write(self.style.SUCCESS(f"\nThe console is up at {url}/console/"))
        self.stdout.write(f"Public question form: {url}/   API docs: {url}/api/v1/docs")
        self.stdout.write(f"Corpus site (crawled into the index): {corpus_url}")
        self.stdout.write(logins.getvalue())
        self.stdout.write("Press Ctrl-C to stop the server, the worker and Redis "
                          "(Ctrl-C again kills them at once).")
        supervisor.wait()
        self.stderr.write("A demo process exited; stopping the others.")

    def _wait_for(self, url: str, processes: list[subprocess.Popen[bytes]]) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in processes):
                raise SystemExit(f"A demo process exited while waiting for {url}.")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"The server did not answer at {url}.")
