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
        parser.add_argument("--corpus-port", type=int,
                            default=int(os.environ.get("CORPUS_PORT", 8001)),
                            help="Port of the static corpus site that the crawler reads.")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        started_redis = False
        if settings.USE_EMBEDDED_REDIS:
            socket = Path(settings.EMBEDDED_REDIS_SOCKET)
            started_redis = not embedded_redis.is_running(socket)
            embedded_redis.ensure_running(socket)
        processes: list[subprocess.Popen] = []
        try:
            self._run(processes, **options)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            self._stop(processes)
            if started_redis:
                embedded_redis.stop(Path(settings.EMBEDDED_REDIS_SOCKET))

    def _run(self, processes: list[subprocess.Popen], **options: Any) -> None:
        env = {**os.environ, "PSY_HTTPS": os.environ.get("PSY_HTTPS", "0")}
        python = sys.executable
        host, port = options["host"], options["port"]

        def start(*command: str) -> subprocess.Popen:
            # Own sessions, so Ctrl-C reaches only this command, which then stops the
            # children in order instead of having them race each other.
            process = subprocess.Popen([python, *command], env=env, start_new_session=True)
            processes.append(process)
            return process

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
        start("-m", "celery", "-A", "psyconsole", "worker", "--pool=solo", "--loglevel=INFO",
              "--beat", "--schedule", str(Path(settings.VAR_DIR) / "celerybeat-schedule"))
        url = f"http://{host}:{port}"
        self._wait_for(url + "/healthz", processes)
        self.stdout.write(self.style.SUCCESS(f"\nThe console is up at {url}/console/"))
        self.stdout.write(f"Public question form: {url}/   API docs: {url}/api/v1/docs")
        self.stdout.write(f"Corpus site (crawled into the index): {corpus_url}")
        self.stdout.write(logins.getvalue())
        self.stdout.write("Press Ctrl-C to stop the server, the worker and Redis.")
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        self.stderr.write("A demo process exited; stopping the others.")

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
                raise SystemExit(f"A demo process exited while waiting for {url}.")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"The server did not answer at {url}.")
