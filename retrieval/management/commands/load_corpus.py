from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from retrieval.corpus import CorpusError, load_directory


class Command(BaseCommand):
    help = ("Loads the fixture articles straight into the database, without the crawler "
            "(offline set-up). Unchanged articles are left as they are.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--articles", type=Path, default=settings.ARTICLES_DIR)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            loaded = load_directory(options["articles"], progress=True)
        except CorpusError as exc:
            raise CommandError(str(exc)) from exc
        changed = sum(1 for item in loaded if item.changed)
        self.stdout.write(f"Corpus: {len(loaded)} articles ({changed} new or changed).")
