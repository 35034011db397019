from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from psyconsole.screening import classifier
from psyconsole.screening.data import training_set


class Command(BaseCommand):
    help = ("Fine-tunes the screening classifier (LoRA over the packaged MiniLM) on "
            "fixtures/screening/train*.jsonl and the risk levels counsellors set by hand; "
            "never on a dev or eval set. Safe to re-run: the new model is swapped in whole.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-overrides", action="store_true",
                            help="train on the fixtures alone, without counsellors' overrides")
        parser.add_argument("--epochs", type=int, default=classifier.TrainingOptions.epochs)
        parser.add_argument("--out", type=Path, default=None,
                            help="where to write it (default PSY_SCREENER_MODEL_PATH; the "
                                 "shipped one is psyconsole/screening/shipped)")
        parser.add_argument("--sample", type=int, default=0,
                            help="train on a random sample of this many messages (a quick "
                                 "check of the training path, not a screener to use)")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = training_set(include_overrides=not options["no_overrides"])
        if not 1 <= options["epochs"] <= 50:
            raise CommandError("--epochs must be between 1 and 50.")
        if options["sample"] < 0:
            raise CommandError("--sample must be positive.")
        if options["sample"]:
            rows = random.Random(0).sample(rows, min(options["sample"], len(rows)))
        if len({r.risk_level for r in rows}) < 2:
            raise CommandError("The training set needs at least two risk levels.")
        out = options["out"] or Path(settings.SCREENER_MODEL_PATH)
        model, thresholds = classifier.train(
            [r.text for r in rows], [r.risk_level for r in rows],
            options=classifier.TrainingOptions(epochs=options["epochs"]), progress=True)
        model.save(out)
        self.stdout.write(self.style.SUCCESS(
            f"Trained on {len(rows)} messages; thresholds {json.dumps(thresholds)}; "
            f"saved to {out}"))
