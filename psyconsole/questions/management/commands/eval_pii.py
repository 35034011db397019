"""`manage.py eval_pii`: measures the PII scrubber of the exports on a labelled set
(psyconsole.exports.pii_eval): recall per entity type, typed and any, the false
replacements, and the time per snippet. The service's own crisis resources are kept, as
the export keeps them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DEFAULT_SET = settings.BASE_DIR / "fixtures" / "eval" / "pii.jsonl"


class Command(BaseCommand):
    help = ("Measures PII scrubbing on a labelled JSONL set: recall per entity type, false "
            "replacements and milliseconds per snippet.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--set", type=Path, default=DEFAULT_SET, dest="eval_set",
                            help="JSONL of {id, text, entities: [{type, start, end, value}]}"
                            " (default: fixtures/eval/pii.jsonl).")
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
        parser.add_argument("--show-missed", action="store_true",
                            help="Also list the entities that were missed, with their text.")

    def handle(self, *args: Any, **options: Any) -> None:
        from psyconsole.exports.pii import get_scrubber, service_keep
        from psyconsole.exports.pii_eval import evaluate, load_rows

        path: Path = options["eval_set"]
        if not path.is_file():
            raise CommandError(f"No PII set at {path}.")
        try:
            rows = load_rows(path)
        except (ValueError, KeyError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        started = time.perf_counter()
        scrubber = get_scrubber()
        load_s = time.perf_counter() - started
        report = evaluate(rows, keep=service_keep(), scrubber=scrubber)
        report["load_s"] = round(load_s, 2)
        report["set"] = str(path)
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False))
            return
        self._print(report, show_missed=options["show_missed"])

    def _print(self, report: dict[str, Any], *, show_missed: bool) -> None:
        out = self.stdout.write
        out(f"PII set {report['set']}: {report['snippets']} snippets, "
            f"{report['entities']} entities ({report['engine']})")
        out(f"{'type':<15}{'entities':>9}{'typed':>8}{'any':>8}{'false repl.':>13}")
        for kind, row in report["per_type"].items():
            out(f"{kind:<15}{row['entities']:>9}{_fmt(row['recall_typed']):>8}"
                f"{_fmt(row['recall_any']):>8}{row['false_replacements']:>13}")
        out(f"{'all':<15}{report['entities']:>9}{_fmt(report['recall_typed']):>8}"
            f"{_fmt(report['recall_any']):>8}{report['false_replacements']:>13}")
        timing = report["timing_ms"]
        out(f"time per snippet: mean {timing['mean']} ms, median {timing['median']} ms, "
            f"p95 {timing['p95']} ms; model load {report['load_s']} s")
        if report["false_replacement_list"]:
            out("false replacements:")
            for item in report["false_replacement_list"]:
                out(f"  {item['id']}: <{item['type']}> for {item['value']!r}")
        if report["missed"]:
            out(f"missed: {len(report['missed'])}")
            for item in report["missed"]:
                out(f"  {item['id']}: {item['type']}"
                    + (f" {item['value']!r}" if show_missed else ""))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
