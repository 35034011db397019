from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from retrieval.evaluation import evaluate, load_set


class Command(BaseCommand):
    help = ("Measures retrieval on a labelled set, at article level: recall@5 (questions "
            "answered in the top 5), MRR@10, and all-relevant recall@5.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--set", type=Path,
                            default=settings.BASE_DIR / "fixtures" / "eval" / "retrieval.jsonl")
        parser.add_argument("--keyword-weight", type=float, default=None,
                            help="Override PSY_RETRIEVAL_KEYWORD_WEIGHT (0 = dense only).")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--show-misses", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            items = load_set(options["set"])
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if not items:
            raise CommandError(f"{options['set']} holds no questions.")
        report = evaluate(items, keyword_weight=options["keyword_weight"],
                          progress=not options["json"])
        if options["json"]:
            self.stdout.write(json.dumps(asdict(report), indent=2))
            return
        self.stdout.write(f"{report.questions} questions from {options['set'].name}")
        self.stdout.write(f"recall@5 {report.recall_at_5:.3f}   MRR@10 {report.mrr_at_10:.3f}   "
                          f"all-relevant recall@5 {report.all_relevant_recall_at_5:.3f}")
        if options["show_misses"]:
            for miss in report.misses:
                self.stdout.write(json.dumps(miss))
