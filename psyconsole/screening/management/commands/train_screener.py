from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from psyconsole.screening import classifier
from psyconsole.screening.data import FIXTURES, read_jsonl, training_set


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
        parser.add_argument("--continue-from", type=Path, default=None,
                            help="continue training this saved screener (for example the "
                                 "shipped one) on --new files, instead of starting afresh")
        parser.add_argument("--new", type=Path, nargs="+", default=[],
                            help="with --continue-from: the files of messages the saved "
                                 "screener has not seen (a training file, or one in "
                                 "fixtures/screening/pending/); it was trained on all the "
                                 "other training files")
        parser.add_argument("--replay", type=int, default=1000,
                            help="with --continue-from: how many of the earlier messages to "
                                 "train on again, so the screener does not forget them")
        parser.add_argument("--learning-rate", type=float,
                            default=classifier.TrainingOptions.learning_rate)
        parser.add_argument("--sample", type=int, default=0,
                            help="train on a random sample of this many messages (a quick "
                                 "check of the training path, not a screener to use)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["epochs"] <= 50:
            raise CommandError("--epochs must be between 1 and 50.")
        if options["continue_from"] is not None:
            self._continue(options)
            return
        rows = training_set(include_overrides=not options["no_overrides"])
        if options["sample"] < 0:
            raise CommandError("--sample must be positive.")
        if options["sample"]:
            rows = random.Random(0).sample(rows, min(options["sample"], len(rows)))
        if len({r.risk_level for r in rows}) < 2:
            raise CommandError("The training set needs at least two risk levels.")
        out = options["out"] or Path(settings.SCREENER_MODEL_PATH)
        model, thresholds = classifier.train(
            [r.text for r in rows], [r.risk_level for r in rows],
            options=classifier.TrainingOptions(epochs=options["epochs"],
                                               learning_rate=options["learning_rate"]),
            progress=True)
        model.save(out)
        self.stdout.write(self.style.SUCCESS(
            f"Trained on {len(rows)} messages; thresholds {json.dumps(thresholds)}; "
            f"saved to {out}"))

    def _continue(self, options: dict[str, Any]) -> None:
        """Continues a saved screener on files it has not seen, with a replay of the
        others; thresholds are chosen again on messages neither model trained on."""
        base = options["continue_from"]
        if not (base / classifier.RECORD).is_file():
            raise CommandError(f"{base} holds no saved screener.")
        new_files = {p.resolve() for p in options["new"]}
        if not new_files:
            raise CommandError("--continue-from needs --new: the files it has not seen.")
        if not options["no_overrides"]:
            raise CommandError("--continue-from trains on the fixtures alone: pass "
                               "--no-overrides (counsellors' labels change between runs, so "
                               "the earlier split could not be told).")
        missing = [p for p in sorted(new_files) if not p.is_file()]
        if missing:
            raise CommandError(f"No such file: {', '.join(map(str, missing))}")
        # The saved screener was trained on the training files but for those named new
        # (which may also lie outside them, as fixtures/screening/pending/ does).
        files = sorted(FIXTURES.glob("train*.jsonl"))
        old = [r for p in files if p.resolve() not in new_files for r in read_jsonl(p)]
        new = [r for p in sorted(new_files) for r in read_jsonl(p)]
        record = json.loads((base / classifier.RECORD).read_text(encoding="utf-8"))
        if record.get("examples") != len(old):
            raise CommandError(
                f"{base} was trained on {record.get('examples')} messages, but the files "
                f"other than --new hold {len(old)}: its held-back messages cannot be told, "
                "so train afresh instead.")
        training = classifier.TrainingOptions(epochs=options["epochs"],
                                              learning_rate=options["learning_rate"])
        split = classifier.continuation_split([r.risk_level for r in old],
                                              [r.risk_level for r in new],
                                              options["replay"], training)
        rows = old + new
        out = options["out"] or Path(settings.SCREENER_MODEL_PATH)
        model, thresholds = classifier.train(
            [r.text for r in rows], [r.risk_level for r in rows], options=training,
            progress=True, start_from=base, split=split)
        model.meta["replayed"] = int((split[0] < len(old)).sum())
        model.meta["new_data"] = sorted(p.name for p in new_files)
        model.save(out)
        self.stdout.write(self.style.SUCCESS(
            f"Continued {base} on {len(new)} new messages and {options['replay']} earlier "
            f"ones; thresholds {json.dumps(thresholds)}; saved to {out}"))
