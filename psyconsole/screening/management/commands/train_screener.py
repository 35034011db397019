from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from psyconsole.screening import classifier
from psyconsole.screening.data import training_set


class Command(BaseCommand):
    help = ("Trains the screening classifier on fixtures/screening/train*.jsonl and the "
            "risk levels counsellors set by hand; never on the eval set.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-overrides", action="store_true")
        parser.add_argument("--epochs", type=int, default=classifier.TrainingOptions.epochs)

    def handle(self, *args: Any, **options: Any) -> None:
        rows = training_set(include_overrides=not options["no_overrides"])
        if len({r.risk_level for r in rows}) < 2:
            raise CommandError("The training set needs at least two risk levels.")
        if not 1 <= options["epochs"] <= 50:
            raise CommandError("--epochs must be between 1 and 50.")
        model, thresholds = classifier.train(
            [r.text for r in rows], [r.risk_level for r in rows],
            options=classifier.TrainingOptions(epochs=options["epochs"]), progress=True)
        model.save(classifier.model_path())
        self.stdout.write(self.style.SUCCESS(
            f"Trained on {len(rows)} messages; thresholds {json.dumps(thresholds)}; "
            f"saved to {classifier.model_path()}"))
