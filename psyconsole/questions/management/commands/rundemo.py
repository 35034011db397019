from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from psyconsole import embedded_redis


class Command(BaseCommand):
    help = ("Sets up and runs the whole product locally on the embedded defaults: migrates, "
            "seeds demo data, builds the index, then runs the ASGI server and a Celery "
            "worker until Ctrl-C, which stops everything it started.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        started_redis = False
        if settings.USE_EMBEDDED_REDIS:
            socket = Path(settings.EMBEDDED_REDIS_SOCKET)
            started_redis = not embedded_redis.is_running(socket)
            embedded_redis.ensure_running(socket)
        logins = io.StringIO()
        call_command("seed_demo", stdout=logins)

        env = {**os.environ, "PSY_HTTPS": os.environ.get("PSY_HTTPS", "0")}
        python = sys.executable
        host, port = options["host"], options["port"]
        # Own sessions, so Ctrl-C reaches only this command, which then stops the
        # children in order instead of having them race each other.
        processes = [
            subprocess.Popen([python, "-m", "daphne", "-b", host, "-p", str(port),
                              "psyconsole.asgi:application"], env=env, start_new_session=True),
            subprocess.Popen([python, "-m", "celery", "-A", "psyconsole", "worker",
                              "--pool=solo", "--loglevel=INFO"], env=env,
                             start_new_session=True),
        ]
        url = f"http://{host}:{port}"
        try:
            self._wait_for(url + "/healthz", processes)
            self.stdout.write(self.style.SUCCESS(f"\nThe console is up at {url}/console/"))
            self.stdout.write(f"Public question form: {url}/   API docs: {url}/api/v1/docs")
            self.stdout.write(logins.getvalue())
            self.stdout.write("Press Ctrl-C to stop the server, the worker and Redis.")
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
            self.stderr.write("A demo process exited; stopping the others.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            self._stop(processes)
            if started_redis:
                embedded_redis.stop(Path(settings.EMBEDDED_REDIS_SOCKET))

    def _stop(self, processes: list[subprocess.Popen]) -> None:
        """A warm stop lets the worker finish the draft in hand; Ctrl-C again kills."""
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        try:
            for p in processes:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
        except KeyboardInterrupt:
            for p in processes:
                p.kill()

    def _wait_for(self, url: str, processes: list[subprocess.Popen]) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in processes):
                raise SystemExit("The server or the worker failed to start.")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"The server did not answer at {url}.")
