"""`manage.py purge [--days N] [--dry-run]`: erases questions closed (delivered, rejected,
withdrawn) longer ago than PSY_RETENTION_DAYS and deletes expired API tokens. The daily
Celery beat task `purge_expired` runs the same service; a re-run finds only what is left."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from psyconsole.questions.models import ApiToken
from psyconsole.questions.services import erasure


class Command(BaseCommand):
    help = "Erase questions past retention and delete expired API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None,
                            help="Retention in days (default PSY_RETENTION_DAYS; 0 keeps "
                                 "questions forever).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Count what would be erased and deleted; change nothing.")

    def handle(self, *args: Any, days: int | None, dry_run: bool, **options: Any) -> None:
        days = settings.RETENTION_DAYS if days is None else days
        if days < 0:
            raise CommandError("--days must be 0 (keep forever) or more.")
        now = timezone.now()
        if dry_run:
            due = (erasure.closed_before(now - timedelta(days=days)).count()
                   if days else 0)
            tokens = ApiToken.objects.filter(expires_at__lt=now).count()
            self.stdout.write(f"Would erase {due} question(s) and delete {tokens} expired "
                              "API token(s).")
            return
        if days == 0:
            self.stdout.write("PSY_RETENTION_DAYS is 0: questions are kept forever.")

        def progress(done: int, total: int) -> None:
            # Every 100 and the last: enough to see a long purge move without a line each.
            if done % 100 == 0 or done == total:
                self.stdout.write(f"  erased {done}/{total}")

        result = erasure.do_purge(days, now=now, progress=progress)
        self.stdout.write(self.style.SUCCESS(
            f"Erased {result.erased} question(s) closed more than {days} days ago"
            f"{f' ({result.skipped} changed meanwhile, skipped)' if result.skipped else ''}; "
            f"deleted {result.tokens_deleted} expired API token(s)."))
