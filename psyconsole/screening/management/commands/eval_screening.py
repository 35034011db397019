from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from psyconsole.screening.data import FIXTURES, read_jsonl
from psyconsole.screening.evaluation import evaluate
from psyconsole.screening.levels import LEVELS


class Command(BaseCommand):
    help = ("Screens the held-out eval set and reports the confusion matrix, per-level "
            "recall and precision, crisis recall, ideation recall and false alarms.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--set", type=Path, default=FIXTURES / "eval.jsonl")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rows = [r for r in read_jsonl(options["set"]) if r.risk_level]
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if not rows:
            raise CommandError("The set holds no labelled messages.")
        report = evaluate(rows, progress=not options["json"])
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(f"{report['messages']} messages; rows are the truth, columns the "
                          "screener's level")
        self.stdout.write("           " + " ".join(f"{level:>9}" for level in LEVELS))
        for truth in LEVELS:
            row = report["confusion"][truth]
            self.stdout.write(f"{truth:>10} " + " ".join(f"{row[p]:>9}" for p in LEVELS))
        for level, figures in report["per_level"].items():
            self.stdout.write(f"{level:>10}: recall {figures['recall']:.3f}  precision "
                              f"{figures['precision']:.3f}  (n={figures['count']})")
        self.stdout.write(f"crisis recall {report['crisis_recall']:.3f} (target >= 0.98)   "
                          f"ideation recall {report['ideation_recall']:.3f} (>= 0.95)   "
                          f"false alarms {report['false_alarm_rate']:.3f} (<= 0.08)")
        for group in ("by_length", "by_kind"):
            for name, figures in report[group].items():
                self.stdout.write(f"  {name:>24}: " + "   ".join(
                    f"{key.replace('_', ' ')} {'-' if value is None else value}"
                    for key, value in figures.items()))
