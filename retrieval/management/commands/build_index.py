from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from retrieval.corpus import load_directory
from retrieval.index import build_index


class Command(BaseCommand):
    help = "Loads the article corpus into the database and (re)builds the FAISS index."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--articles", type=Path, default=settings.ARTICLES_DIR)
        parser.add_argument("--index-dir", type=Path, default=settings.INDEX_DIR)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        loaded = load_directory(options["articles"])
        changed = sum(1 for _, was_changed in loaded if was_changed)
        self.stdout.write(f"Corpus: {len(loaded)} articles ({changed} new or changed).")
        options["index_dir"].mkdir(parents=True, exist_ok=True)
        manifest = build_index(options["index_dir"], progress=not options["no_progress"])
        self.stdout.write(self.style.SUCCESS(f"Index built: {json.dumps(manifest)}"))
