"""Export memory against the number of reviews, measured in one run: the export streams,
so its peak memory should not grow with the data.

Seeds a fresh SQLite database with `--small` and then `--large` approved, annotated
reviews (bulk inserts of realistic rows: the drafting prompt, a draft and a reply each)
and runs the real export (`do_run_export`, PII scrubbing included) on each, reporting
the peak of Python allocations (tracemalloc) during the export and the ratio between
the two. A flat export gives a ratio near 1 whatever the ratio of reviews.

    PSY_HTTPS=0 .venv/bin/python benchmarks/export_memory.py [--small 500] [--large 5000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psyconsole.settings")
os.environ.setdefault("PSY_HTTPS", "0")

QUESTION = ("I keep lying awake before my exams, going over everything I haven't revised. "
            "My name is Sam and my email is sam.k@example.com. What can I do? (#{n})")
REPLY = ("It makes sense that the nights before exams feel long [1]. Try a wind-down half "
         "hour, a fixed wake-up time and writing tomorrow's worries down [2]. If it goes "
         "on for weeks, talk to your GP. (#{n})")


def seed(count: int, start: int) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from inference.models import ModelVersion
    from inference.prompts import build_messages
    from psyconsole.questions.models import Annotation, Draft, Question, Review, Status

    user, _ = get_user_model().objects.get_or_create(username="bench-counsellor")
    version, _ = ModelVersion.objects.get_or_create(name="bench-model",
                                                    defaults={"base_model": "bench"})
    now = timezone.now()
    for offset in range(0, count, 1000):
        numbers = range(start + offset, start + min(offset + 1000, count))
        questions = Question.objects.bulk_create([
            Question(text=QUESTION.format(n=n), status=Status.DELIVERED, risk_level="low",
                     priority=20, tracking_code=f"bench-{n:012d}") for n in numbers])
        drafts = Draft.objects.bulk_create([
            Draft(question=q, model_version=version, text="A draft reply [1].",
                  raw_text="A draft reply [1].", prompt=build_messages(q.text, []),
                  prompt_version="bench") for q in questions])
        reviews = Review.objects.bulk_create([
            Review(question=q, draft=d, reviewer=user, decision=Review.Decision.APPROVED,
                   final_text=REPLY.format(n=n), created_at=now)
            for q, d, n in zip(questions, drafts, numbers, strict=True)])
        Annotation.objects.bulk_create([
            Annotation(review=r, author=user, overall=4, empathy=4) for r in reviews])


def measure(admin: object, count: int) -> tuple[float, float]:
    from psyconsole.exports import service

    export = service.do_request_export(admin, service.ExportFilters(), queue=False)
    tracemalloc.start()
    started = time.perf_counter()
    done = service.do_run_export(export.pk)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    exported = done.manifest["counts"]["reviews_exported"]
    assert exported == count, (exported, count)
    return peak / 2**20, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--large", type=int, default=5000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="psy-export-bench-"))
    os.environ["PSY_VAR_DIR"] = str(workdir)
    if not os.environ.get("PSY_BENCH_DATABASE_URL"):
        os.environ.pop("DATABASE_URL", None)  # a fresh SQLite file, never a real database
    else:
        os.environ["DATABASE_URL"] = os.environ["PSY_BENCH_DATABASE_URL"]
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from psyconsole.questions import roles

    settings.EXPORT_DIR = workdir / "exports"
    call_command("migrate", verbosity=0)
    roles.ensure_roles()
    admin = get_user_model().objects.create_user("bench-admin")
    admin.groups.add(Group.objects.get(name=roles.ADMIN))
    from psyconsole.exports.pii import scrub

    scrub("warm up, Sam")  # load the NER model outside the measurement
    seed(args.small, 0)
    small_mb, small_s = measure(admin, args.small)
    seed(args.large - args.small, args.small)
    large_mb, large_s = measure(admin, args.large)
    print(f"# Export peak memory (tracemalloc), {args.small:,} vs {args.large:,} reviews")
    print("| reviews | peak MiB | seconds | reviews/s |")
    print("|---:|---:|---:|---:|")
    for count, mb, seconds in ((args.small, small_mb, small_s), (args.large, large_mb, large_s)):
        print(f"| {count:,} | {mb:.1f} | {seconds:.1f} | {count / seconds:.0f} |")
    print(f"\n{args.large / args.small:.0f}x the reviews, {large_mb / small_mb:.2f}x the peak "
          "memory.")


if __name__ == "__main__":
    main()
