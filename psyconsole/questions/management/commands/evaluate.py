"""`manage.py evaluate`: scores a model version on a held-out SFT set
(inference.evaluation) and stores the figures as an EvaluationRun, or compares two
versions' latest figures. It sits with the console because what counts as a risky
question (whose reply must carry the crisis resources) is the screening's rule."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference.evaluation import LOWER_IS_BETTER, evaluate
from inference.generation import generation_settings
from inference.loading import ModelNotAvailable, get_model
from inference.models import EvaluationRun, ModelVersion
from inference.prompts import PROMPT_VERSION
from inference.sft_data import DataError, data_hash, load_records
from inference.versions import VersionNotFound, ensure_model_version, resolve_version
from psyconsole.screening.levels import is_risky

DEFAULT_SET = settings.BASE_DIR / "fixtures" / "eval" / "sft_heldout.jsonl"
SHOWN = ["perplexity", "rouge_l", "distinct_1", "distinct_2", "citation_validity",
         "citing_share", "guardrail_violation_rate", "crisis_resource_inclusion",
         "mean_length_words", "latency_s_per_reply", "tokens_per_second"]


class Command(BaseCommand):
    help = ("Evaluates a model version on a held-out SFT set and stores the figures, or "
            "compares the latest figures of two versions (--compare A B).")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--model", default="", help="Model version (default: the "
                            "packaged base model).")
        parser.add_argument("--set", type=Path, default=DEFAULT_SET, dest="eval_set")
        parser.add_argument("--compare", nargs=2, metavar=("A", "B"))
        parser.add_argument("--batch-size", type=int, default=8)
        parser.add_argument("--limit", type=int, default=0,
                            help="Evaluate on the first N examples only.")
        parser.add_argument("--max-new-tokens", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["compare"]:
            self.compare(*options["compare"], eval_set=options["eval_set"])
            return
        if not 1 <= options["batch_size"] <= 64:
            raise CommandError("--batch-size must be between 1 and 64.")
        try:
            records = load_records(options["eval_set"])
            version = resolve_version(options["model"] or None)
            loaded = get_model(version.spec)
        except (DataError, VersionNotFound, ModelNotAvailable) as exc:
            raise CommandError(str(exc)) from exc
        if options["limit"] > 0:
            records = records[:options["limit"]]
        digest = data_hash(options["eval_set"])
        run_key = hashlib.sha256(json.dumps([
            digest, len(records), options["max_new_tokens"], generation_settings(loaded),
            PROMPT_VERSION]).encode()).hexdigest()[:16]
        cache = Path(settings.VAR_DIR) / "evaluations" / version.name / f"{run_key}.jsonl"
        metrics = evaluate(loaded, records, cache=cache, is_risky=is_risky,
                           batch_size=options["batch_size"],
                           max_new_tokens=options["max_new_tokens"] or None)
        row = ensure_model_version(version.name)
        EvaluationRun.objects.create(model_version=row, eval_set=options["eval_set"].name,
                                     data_sha256=digest, metrics=metrics)
        self.stdout.write(f"{version.name} on {options['eval_set'].name} "
                          f"({metrics['examples']} examples):")
        for name in SHOWN:
            self.stdout.write(f"  {name:28} {metrics.get(name)}")

    def compare(self, a: str, b: str, *, eval_set: Path) -> None:
        runs = []
        for name in (a, b):
            run = EvaluationRun.objects.filter(model_version__name=name,
                                               eval_set=eval_set.name).first()
            if run is None:
                known = ModelVersion.objects.filter(evaluations__isnull=False).distinct()
                raise CommandError(f"No evaluation of {name!r} on {eval_set.name}. "
                                   f"Evaluated: {', '.join(v.name for v in known) or 'none'}.")
            runs.append(run)
        if runs[0].data_sha256 != runs[1].data_sha256:
            self.stderr.write("Warning: the two runs used different versions of the set.")
        self.stdout.write(f"| metric | {a} | {b} | change |")
        self.stdout.write("|---|---:|---:|---:|")
        for name in SHOWN:
            old, new = runs[0].metrics.get(name), runs[1].metrics.get(name)
            change = ""
            if isinstance(old, int | float) and isinstance(new, int | float) and old:
                relative = (new - old) / abs(old)
                better = (relative < 0) if name in LOWER_IS_BETTER else (relative > 0)
                change = f"{relative:+.1%}{' better' if better and relative else ''}"
            self.stdout.write(f"| {name} | {old} | {new} | {change} |")
