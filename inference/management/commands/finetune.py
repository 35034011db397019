from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference.sft_data import DataError
from inference.training import Hyperparameters, train_sft
from inference.versions import VersionNotFound, register_adapter, resolve_version


class Command(BaseCommand):
    help = ("Fine-tunes a LoRA adapter on a TRL conversational SFT file (the export's "
            "format) and registers it as a new, unpromoted model version. Re-running "
            "resumes from the last checkpoint; a finished run is only registered.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--data", type=Path, required=True, help="SFT JSONL file.")
        parser.add_argument("--method", choices=["sft"], default="sft")
        parser.add_argument("--base", default="",
                            help="Base model version (default: the packaged base model).")
        parser.add_argument("--name", default="", help="Name of the new model version.")
        parser.add_argument("--output", type=Path, default=None,
                            help="Run directory (default: var/training/<name>).")
        parser.add_argument("--fresh", action="store_true",
                            help="Discard checkpoints in the run directory and start over.")
        parser.add_argument("--save-steps", type=int, default=20,
                            help="Save a checkpoint every N optimiser steps.")
        defaults = asdict(Hyperparameters())
        for name, value in defaults.items():
            parser.add_argument(f"--{name.replace('_', '-')}", type=type(value),
                                default=value)

    def handle(self, *args: Any, **options: Any) -> None:
        data: Path = options["data"]
        if not data.is_file():
            raise CommandError(f"{data} is not a file.")
        try:
            base = resolve_version(options["base"] or None, base_only=True)
        except VersionNotFound as exc:
            raise CommandError(str(exc)) from exc
        name = options["name"] or f"{base.name}+sft-{data.stem}"
        output = options["output"] or Path(settings.VAR_DIR) / "training" / name
        hparams = Hyperparameters(**{key: options[key]
                                     for key in asdict(Hyperparameters())})
        try:
            result = train_sft(data, base.model_dir(), output, hparams,
                               base_model_name=base.name, fresh=options["fresh"],
                               save_steps=max(1, options["save_steps"]))
        except DataError as exc:
            raise CommandError(str(exc)) from exc
        version = register_adapter(name, base, result.adapter_dir, result.record)
        verb = "Trained" if result.trained else "Already trained; registered"
        metrics = result.record["metrics"]
        self.stdout.write(f"{verb} {version.name}: loss {metrics['train_loss']} over "
                          f"{metrics['steps']} steps on {result.record['device']}. "
                          f"Adapter: {result.adapter_dir}. Not promoted.")
