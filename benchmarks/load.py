"""Load test of the console as it is served: daphne on the whole app, PostgreSQL and
Redis on this machine, locust (as a library, no web UI) as the clients. Three scenarios,
each with the same baseline measured in the same run (GET /healthz, one `SELECT 1`), so
the figures are ratios as well as absolutes:

  intake       POST /api/v1/questions with client-style texts, screened at once by the
               shipped screener (rules + fine-tuned classifier)
  queue page   GET /console/ as signed-in counsellors, with --questions in the database
  console API  --counsellors simulated counsellors on the API: queue list, question
               detail, take next + release, claim + release

    PSY_HTTPS=0 DATABASE_URL=postgres://... REDIS_URL=redis://... \\
        .venv/bin/python benchmarks/load.py [--seconds 60] [--users 10] [--questions 100000]

DATABASE_URL must name a throwaway PostgreSQL database: the run migrates it and fills it
with --questions rows (pass --reset to drop and recreate it first, and to flush the
Redis database of REDIS_URL). The intake rate limits (PSY_INTAKE_RATE,
PSY_INTAKE_IP_RATE) are raised for daphne, or every client would get 429 after ten
questions a minute. Users wait for nothing between requests: each scenario measures
what one daphne process gives at --users open connections, not a day's traffic.
Results go to var/benchmarks/load-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "var" / "benchmarks"
FIXTURE_TEXTS = [ROOT / "fixtures" / "screening" / f"{name}.jsonl"
                 for name in ("dev", "dev_b", "dev_c", "dev_d", "dev_short")]
# High enough that no client of the benchmark is throttled.
UNTHROTTLED = {"PSY_INTAKE_RATE": "1000000/m", "PSY_INTAKE_IP_RATE": "1000000/m",
               "PSY_TOKEN_RATE": "1000000/m"}
# A service that has answered 100k questions: most are closed. The open tenth (or
# --open-share) arrived over the last fortnight, so many are past their SLA. Risk levels
# as a general service might see them, rarer crises than in the screening sets.
CLOSED_MIX = {"delivered": 0.86, "rejected": 0.05, "withdrawn": 0.06, "erased": 0.03}
OPEN_MIX = {"screened": 0.25, "drafted": 0.65, "escalated": 0.10}
RISK_MIX = {"none": 0.45, "low": 0.30, "moderate": 0.15, "high": 0.08, "imminent": 0.02}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def client_texts() -> list[dict[str, Any]]:
    rows = []
    for path in FIXTURE_TEXTS:
        with path.open(encoding="utf-8") as handle:
            rows.extend(json.loads(line) for line in handle if line.strip())
    return rows


# --- preparing the database (a child process: Django, no gevent) ------------------------

def reset_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    base, _, name = url.rpartition("/")
    name = name.split("?")[0]
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def copy_questions(count: int, open_share: float, seed: int) -> dict[str, int]:
    """Writes `count` questions with one COPY: realistic texts, statuses, risk levels,
    topics and ages. No screening, drafts or audit rows: the queue page reads none of
    them but the has-a-draft check, which finds none here."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from psyconsole.questions.models import Question, new_tracking_code

    rng = random.Random(seed)
    by_level: dict[str, list[dict[str, Any]]] = {}
    for row in client_texts():
        by_level.setdefault(row["risk_level"], []).append(row)
    now = timezone.now()
    columns = ["tracking_code", "text", "contact", "request_fingerprint", "status",
               "risk_level", "risk_factors", "topics", "human_only", "first_claimed_at",
               "priority", "created_at", "updated_at"]
    counts: dict[str, int] = {}
    table = Question._meta.db_table
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for i in range(count):
            open_ = rng.random() < open_share
            mix = OPEN_MIX if open_ else CLOSED_MIX
            status = rng.choices(list(mix), weights=list(mix.values()))[0]
            level = rng.choices(list(RISK_MIX), weights=list(RISK_MIX.values()))[0]
            sample = rng.choice(by_level[level])
            age = timedelta(days=rng.uniform(0, 14 if open_ else 365))
            created = now - age
            claimed = (created + timedelta(minutes=rng.expovariate(1 / 90))
                       if status in ("delivered", "rejected", "escalated") else None)
            erased = status == "erased"
            copy.write_row([
                new_tracking_code(), "[erased]" if erased else sample["text"],
                "", "", status, level, "[]",
                json.dumps([] if erased else sample.get("topics", [])), False, claimed,
                0, created, min(now, created + timedelta(hours=rng.uniform(0, 48))),
            ])
            counts[status] = counts.get(status, 0) + 1
            if (i + 1) % 20000 == 0:
                log(f"  {i + 1:,} / {count:,} questions written")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
    return counts


def prepare(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psyconsole.settings")
    sys.path.insert(0, str(ROOT))
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a throwaway PostgreSQL database.")
    if args.reset:
        log("dropping and creating the database")
        reset_database(url)
    import django

    django.setup()
    import logging

    logging.getLogger("axes").setLevel(logging.WARNING)  # a line per force_login below
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client

    from psyconsole.questions import roles
    from psyconsole.questions.models import Question, Status
    from psyconsole.questions.services.tokens import do_issue_api_token

    log("migrating")
    call_command("migrate", verbosity=0)
    if Question.objects.exists():
        sys.exit("The database already has questions: point DATABASE_URL at a throwaway "
                 "database, or pass --reset to drop and recreate it.")
    if args.reset:
        cache.clear()  # the rate limits' counters of a previous run
    roles.ensure_roles()
    group = Group.objects.get(name=roles.COUNSELLOR)
    sessions, tokens = [], []
    for n in range(1, args.counsellors + 1):
        user = get_user_model().objects.create(username=f"load-counsellor-{n:02d}",
                                               first_name=f"Counsellor {n}")
        user.set_unusable_password()  # signed in below; no password hashing to wait for
        user.save()
        user.groups.add(group)
        client = Client()
        client.force_login(user)
        sessions.append(client.cookies["sessionid"].value)
        tokens.append(do_issue_api_token(user))
    log(f"{args.counsellors} counsellors with sessions and API tokens")
    log(f"writing {args.questions:,} questions ({args.open_share:.0%} open)")
    started = time.perf_counter()
    counts = copy_questions(args.questions, args.open_share, args.seed)
    log(f"  done in {time.perf_counter() - started:.1f} s: {counts}")
    open_ids = list(Question.objects.filter(status__in=[Status.SCREENED, Status.DRAFTED])
                    .values_list("pk", flat=True)[:5000])
    Path(args.fixture).write_text(json.dumps({
        "sessions": sessions, "tokens": tokens, "open_ids": open_ids, "counts": counts,
    }))


# --- the load (this process: locust, gevent) --------------------------------------------

def start_daphne(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    handle = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p",
                                str(port), "psyconsole.asgi:application"], cwd=ROOT, env=env,
                               stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):  # noqa: S310 (loopback)
                return process, url
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.3)
    process.kill()
    sys.exit(f"daphne did not answer /healthz; see {log_path}")


def user_classes(fixture: dict[str, Any]) -> dict[str, type]:
    from locust import FastHttpUser, constant, task

    texts = [row["text"] for row in client_texts()]
    sessions, tokens, open_ids = fixture["sessions"], fixture["tokens"], fixture["open_ids"]
    counter = {"n": 0}

    def next_index() -> int:
        counter["n"] += 1
        return counter["n"]

    class Baseline(FastHttpUser):
        wait_time = constant(0)

        @task
        def healthz(self) -> None:
            self.client.get("/healthz", name="GET /healthz")

    class Client(FastHttpUser):
        wait_time = constant(0)

        @task
        def ask(self) -> None:
            # A suffix keeps texts distinct, as real ones are; screening sees the text.
            text = f"{random.choice(texts)} ({next_index()})"
            with self.client.post("/api/v1/questions", json={"text": text},
                                  name="POST /api/v1/questions", catch_response=True) as r:
                if r.status_code != 201:
                    r.failure(f"{r.status_code}")

    class QueuePageReader(FastHttpUser):
        wait_time = constant(0)

        def on_start(self) -> None:
            self.cookie = f"sessionid={sessions[next_index() % len(sessions)]}"

        @task
        def queue_page(self) -> None:
            with self.client.get("/console/", headers={"Cookie": self.cookie},
                                 name="GET /console/", catch_response=True) as r:
                if r.status_code != 200 or b"queue" not in (r.content or b""):
                    r.failure(f"{r.status_code}")

    class Counsellor(FastHttpUser):
        wait_time = constant(0)

        def on_start(self) -> None:
            token = tokens[next_index() % len(tokens)]
            self.auth = {"Authorization": f"Bearer {token}"}

        def _post(self, path: str, name: str, ok: tuple[int, ...]) -> Any:
            with self.client.post(path, headers=self.auth, name=name,
                                  catch_response=True) as r:
                if r.status_code not in ok:
                    r.failure(f"{r.status_code}")
                return r

        @task(4)
        def queue(self) -> None:
            self.client.get("/api/v1/console/queue", headers=self.auth,
                            name="GET /api/v1/console/queue")

        @task(4)
        def detail(self) -> None:
            self.client.get(f"/api/v1/console/questions/{random.choice(open_ids)}",
                            headers=self.auth, name="GET /api/v1/console/questions/{id}")

        @task(1)
        def take_next_and_release(self) -> None:
            r = self._post("/api/v1/console/take-next", "POST take-next", (200, 204))
            if r.status_code == 200:
                question_id = r.json()["id"]
                self._post(f"/api/v1/console/questions/{question_id}/release",
                           "POST release", (200,))

        @task(1)
        def claim_and_release(self) -> None:
            question_id = random.choice(open_ids)
            # 409: another counsellor holds it, or it is closed; the API's right answer.
            r = self._post(f"/api/v1/console/questions/{question_id}/claim", "POST claim",
                           (200, 409))
            if r.status_code == 200:
                self._post(f"/api/v1/console/questions/{question_id}/release",
                           "POST release", (200,))

    return {"baseline": Baseline, "intake": Client, "queue_page": QueuePageReader,
            "console_api": Counsellor}


def summary(entry: Any, seconds: float) -> dict[str, Any]:
    return {
        "requests": entry.num_requests, "failures": entry.num_failures,
        "rps": round(entry.num_requests / seconds, 1) if seconds else 0.0,
        "p50_ms": entry.get_response_time_percentile(0.50),
        "p95_ms": entry.get_response_time_percentile(0.95),
        "p99_ms": entry.get_response_time_percentile(0.99),
        "mean_ms": round(entry.avg_response_time, 1),
    }


def run_scenario(name: str, user_class: type, host: str, users: int,
                 seconds: int) -> dict[str, Any]:
    import gevent
    from locust.env import Environment

    env = Environment(user_classes=[user_class], host=host)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=max(users, 1))
    warm_up = min(5.0, seconds / 6)
    gevent.sleep(warm_up)  # connections opened, caches warm: not measured
    env.stats.reset_all()
    started = time.monotonic()
    while (left := seconds - (time.monotonic() - started)) > 0:
        gevent.sleep(min(10.0, left))
        total = env.stats.total
        log(f"  {name}: {time.monotonic() - started:.0f} s, {total.num_requests} requests, "
            f"p95 {total.get_response_time_percentile(0.95)} ms, "
            f"{total.num_failures} failures")
    measured = time.monotonic() - started
    runner.stop()
    runner.quit()
    result = {"users": users, "seconds": round(measured, 1),
              "total": summary(env.stats.total, measured),
              "endpoints": {f"{e.method} {e.name}" if not e.name.startswith(e.method)
                            else e.name: summary(e, measured)
                            for e in env.stats.entries.values()},
              "errors": {f"{e.method} {e.name}: {e.error}": e.occurrences
                         for e in env.stats.errors.values()}}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="measured per scenario")
    parser.add_argument("--users", type=int, default=10,
                        help="concurrent clients for the baseline, intake and queue page")
    parser.add_argument("--counsellors", type=int, default=20,
                        help="simulated counsellors on the console API")
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--open-share", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--reset", action="store_true",
                        help="drop and recreate DATABASE_URL's database first")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fixture", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("PSY_HTTPS", "0")
    if args.prepare:
        prepare(args)
        return

    # locust patches the standard library with gevent when imported: first, and only in
    # this process (the preparing child and daphne run unpatched).
    import locust  # noqa: F401

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    fixture_path = OUT_DIR / f"load-{stamp}-fixture.json"
    command = [sys.executable, __file__, "--prepare", "--fixture", str(fixture_path),
               "--questions", str(args.questions), "--open-share", str(args.open_share),
               "--counsellors", str(args.counsellors), "--seed", str(args.seed)]
    if args.reset:
        command.append("--reset")
    subprocess.run(command, cwd=ROOT, check=True)
    fixture = json.loads(fixture_path.read_text())
    fixture_path.unlink()  # it holds live sessions and tokens

    env = {**os.environ, **UNTHROTTLED}
    log_path = OUT_DIR / f"load-{stamp}-daphne.log"
    log("starting daphne (the shipped screener loads on the first question)")
    daphne, host = start_daphne(env, log_path)
    try:
        classes = user_classes(fixture)
        # One question first: the screener's model loads then, not inside a measurement.
        request = urllib.request.Request(  # noqa: S310 (our daphne on loopback)
            host + "/api/v1/questions", method="POST",
            data=b'{"text": "warming up the screener"}',
            headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=120).read()  # noqa: S310
        plan = [("baseline", args.users), ("queue_page", args.users),
                ("console_api", args.counsellors), ("intake", args.users)]
        results: dict[str, Any] = {}
        for name, users in plan:
            log(f"{name}: {users} users for {args.seconds} s")
            results[name] = run_scenario(name, classes[name], host, users, args.seconds)
            total = results[name]["total"]
            log(f"  {name}: {total['rps']} req/s, p50 {total['p50_ms']} ms, "
                f"p95 {total['p95_ms']} ms, p99 {total['p99_ms']} ms, "
                f"{total['failures']} failures")
    finally:
        daphne.send_signal(signal.SIGTERM)
        try:
            daphne.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daphne.kill()
    base = results["baseline"]["total"]
    for result in results.values():
        total = result["total"]
        total["rps_vs_baseline"] = round(total["rps"] / base["rps"], 3) if base["rps"] else None
        total["p95_vs_baseline"] = (round(total["p95_ms"] / base["p95_ms"], 1)
                                    if base["p95_ms"] else None)
    report = {"when": stamp, "cpus": os.cpu_count(), "questions": args.questions,
              "open_share": args.open_share, "question_counts": fixture["counts"],
              "rate_limits_raised": UNTHROTTLED, "scenarios": results}
    out = OUT_DIR / f"load-{stamp}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\n# Load test, {args.questions:,} questions, {os.cpu_count()} CPUs, "
          f"{args.seconds} s a scenario")
    print("| scenario | users | req/s | p50 ms | p95 ms | p99 ms | failures "
          "| req/s vs healthz | p95 vs healthz |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        t = result["total"]
        print(f"| {name} | {result['users']} | {t['rps']} | {t['p50_ms']} | {t['p95_ms']} | "
              f"{t['p99_ms']} | {t['failures']} | {t['rps_vs_baseline']}x | "
              f"{t['p95_vs_baseline']}x |")
    print("\nconsole API by endpoint:")
    for name, entry in results["console_api"]["endpoints"].items():
        print(f"  {name}: {entry['requests']} requests, p50 {entry['p50_ms']} ms, "
              f"p95 {entry['p95_ms']} ms, {entry['failures']} failures")
    for name, result in results.items():
        for error, n in result["errors"].items():
            print(f"  {name} error x{n}: {error}")
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
