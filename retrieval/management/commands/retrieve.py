from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from retrieval.service import search


class Command(BaseCommand):
    help = "Prints the passages retrieved for a text."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("text")
        parser.add_argument("--k", type=int, default=5)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            options["text"].encode("utf-8")
        except UnicodeEncodeError as exc:
            # Arguments that are not UTF-8 reach Python as lone surrogates
            # (surrogateescape), which the embedder and the database cannot take.
            raise CommandError(f"The text is not valid UTF-8 (character {exc.start + 1}); "
                               "give it in UTF-8.") from exc
        if not options["text"].strip():
            raise CommandError("Give some text to search for.")
        if not 1 <= options["k"] <= 50:
            raise CommandError("--k must be between 1 and 50.")
        passages = search(options["text"], options["k"])
        if options["json"]:
            self.stdout.write(json.dumps([p.as_dict() for p in passages], indent=2))
            return
        for n, p in enumerate(passages, start=1):
            self.stdout.write(f"[{n}] {p.score:.3f} {p.article_title} — {p.heading}")
