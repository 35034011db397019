"""`rundemo` stops everything it started, and everything that started, whatever stops it:
Ctrl-C (SIGINT), SIGTERM (a service manager, `kill`) or SIGHUP (a closed terminal).

The demo itself takes minutes to set up, so these tests run rundemo's supervisor (the
class `rundemo` runs its processes under, signal handling included) in a separate
process, with cheap children that are hard to stop, and one with the demo's real
Celery worker and its embedded beat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tests.factories import ROOT

# Started under the supervisor the way `rundemo` starts its processes; `STARTED` tells
# the test that every start() has returned.
SUPERVISED = textwrap.dedent("""
    import sys
    from psyconsole.questions.management.commands.rundemo import Supervisor

    grace, commands = float(sys.argv[1]), sys.argv[2:]
    with Supervisor({**__import__("os").environ}, grace=grace, straggler_grace=1.0) as s:
        for command in commands:
            s.start(*command.split("\\x1f"))
        print("STARTED", flush=True)
        s.wait()
""")

# A parent that dies on SIGTERM and leaves a child behind that ignores it.
PARENT_WITH_STUBBORN_CHILD = textwrap.dedent("""
    import subprocess, sys, time
    subprocess.Popen([sys.executable, "-c",
                      "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                      "time.sleep(600)"])
    time.sleep(600)
""")
# A process that ignores SIGTERM itself (a worker stuck in a draft).
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"


def _python(code: str) -> str:
    return "\x1f".join(["-c", code])


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError):
            continue
        table[int(stat.parent.name)] = (int(parent), state)
    return table


def _descendants(root: int) -> set[int]:
    table = _processes()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (parent, _) in table.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(pids: set[int]) -> set[int]:
    # A zombie is dead; it waits only for an init that may never reap it.
    table = _processes()
    return {pid for pid in pids if pid in table and table[pid][1] != "Z"}


def _supervise(tmp_path: Path, grace: float, *commands: str,
               expect: int) -> tuple[subprocess.Popen[bytes], set[int]]:
    """Starts the supervisor; returns it and its process tree, once `expect` processes
    under it are running."""
    log = (tmp_path / "supervisor.log").open("wb")
    supervisor = subprocess.Popen([sys.executable, "-c", SUPERVISED, str(grace), *commands],
                                  cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tree = _descendants(supervisor.pid)
        if (len(_running(tree)) >= expect
                and b"STARTED" in (tmp_path / "supervisor.log").read_bytes()):
            return supervisor, tree
        assert supervisor.poll() is None, (tmp_path / "supervisor.log").read_text()
        time.sleep(0.1)
    supervisor.kill()
    raise AssertionError(f"only {_descendants(supervisor.pid)} started")


def _kill_left_overs(pids: set[int]) -> None:
    for pid in _running(pids):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_every_process_and_its_children_stop_on_a_signal(tmp_path, signum):
    supervisor, tree = _supervise(tmp_path, 1.0, _python(PARENT_WITH_STUBBORN_CHILD),
                                  _python(STUBBORN), expect=3)
    try:
        supervisor.send_signal(signum)
        assert supervisor.wait(timeout=20) == 0  # it stopped itself, it was not killed
        assert _running(tree) == set()
    finally:
        _kill_left_overs(tree)
        if supervisor.poll() is None:
            supervisor.kill()


def test_a_second_signal_stops_at_once_without_the_warm_wait(tmp_path):
    supervisor, tree = _supervise(tmp_path, 60.0, _python(STUBBORN), expect=1)
    try:
        supervisor.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        started = time.monotonic()
        supervisor.send_signal(signal.SIGINT)
        assert supervisor.wait(timeout=20) == 0
        assert time.monotonic() - started < 10  # not the 60 s grace
        assert _running(tree) == set()
    finally:
        _kill_left_overs(tree)
        if supervisor.poll() is None:
            supervisor.kill()


def test_the_demo_worker_and_its_beat_stop_on_sigterm(tmp_path):
    """The demo's worker command, embedded beat and all (beat is the worker's child)."""
    worker = "\x1f".join([
        "-m", "celery", "-A", "psyconsole", "worker", "--pool=solo", "--beat",
        "--schedule", str(tmp_path / "celerybeat-schedule"),
        "-Q", f"signals-{uuid.uuid4().hex[:8]}",  # consumes nobody else's tasks
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"])
    supervisor, tree = _supervise(tmp_path, 30.0, worker, expect=2)  # worker + beat
    try:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=40) == 0
        assert _running(tree) == set()
    finally:
        _kill_left_overs(tree)
        if supervisor.poll() is None:
            supervisor.kill()
