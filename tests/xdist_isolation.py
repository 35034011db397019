"""Gives each pytest-xdist worker its own Redis database and var directory.

`make test` runs the suite on two workers: much of it waits on real processes (the
Celery worker, daphne, Chromium), and a second worker runs other tests meanwhile.
pytest-django already gives each worker its own test database (`test_<name>_gw1`), but
Redis (the broker, the channel layer, the cache and the rate limits) and `PSY_VAR_DIR`
(the tiny model, indexes, screenshots) are read from the environment when the settings
are imported. This plugin is named with `-p` in pyproject.toml's addopts, so pytest
imports it before pytest-django imports the settings, and each worker rewrites them
first: worker n uses Redis database base + n and `var/test/gw<n>`. Worker 0 and a run
without xdist keep the environment as it is."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit


def worker_number() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") else 0


def redis_url_for_worker(url: str, number: int) -> str:
    """The same server with database base + number (unix sockets carry ?db=)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise RuntimeError(f"pytest-xdist needs REDIS_URL as redis://host/db, not {url!r}")
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + number}"))


def _isolate() -> None:
    number = worker_number()
    if number == 0:
        return
    if "REDIS_URL" not in os.environ:
        raise RuntimeError("Run the tests with `make test`: each worker needs REDIS_URL.")
    os.environ["REDIS_URL"] = redis_url_for_worker(os.environ["REDIS_URL"], number)
    var_dir = os.environ.get("PSY_VAR_DIR")
    if var_dir:
        os.environ["PSY_VAR_DIR"] = os.path.join(var_dir, f"gw{number}")


_isolate()
