from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from retrieval.index import IndexMissing, build_index


class Command(BaseCommand):
    help = "Rebuilds the FAISS index from every stored chunk and swaps it in atomically."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--index-dir", type=Path, default=settings.INDEX_DIR)
        parser.add_argument("--type", choices=["flat", "hnsw"], default=None,
                            help="Override PSY_INDEX_TYPE for this build.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = build_index(options["index_dir"], kind=options["type"],
                                   progress=not options["no_progress"])
        except IndexMissing as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Index built: {json.dumps(manifest)}"))
