from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference.models import ModelVersion
from inference.sft_data import DataError
from inference.training import (
    HYPERPARAMETERS,
    METHODS,
    hyperparameter_names,
    make_hyperparameters,
    resolve_data_file,
    train,
)
from inference.versions import (
    Version,
    VersionNotFound,
    active_spec,
    register_adapter,
    resolve_version,
)


def default_start(method: str) -> Version:
    """SFT starts from the packaged base model; DPO and KTO from the active version (the
    promoted one, else the shipped SFT adapter), whose adapter they continue."""
    if method == "sft":
        return resolve_version(None)
    spec = active_spec()
    return Version(spec.name, spec)


def data_label(data: Path) -> str:
    """`export-00007` for an export's `dpo/train.jsonl`, else the file's stem."""
    if data.name == "train.jsonl" and data.parent.name in METHODS:
        return data.parent.parent.name or data.stem
    return data.stem


def _defaults_help(name: str) -> str:
    values = []
    for method, cls in HYPERPARAMETERS.items():
        default = getattr(cls(), name, None)
        if default is not None:
            values.append(f"{method} {default}")
    return "default: " + ", ".join(values)


class Command(BaseCommand):
    help = ("Fine-tunes a LoRA adapter with TRL on an export (SFT, or DPO / KTO from "
            "preferences) and registers it as a new, unpromoted model version. Starting "
            "from a version with an adapter continues that adapter. Re-running resumes "
            "from the last checkpoint; a finished run is only registered.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--data", type=Path, required=True,
                            help="JSONL file in the method's TRL format, or an export's "
                                 "folder (its <method>/train.jsonl is used).")
        parser.add_argument("--method", choices=METHODS, default="sft")
        parser.add_argument("--base", default="",
                            help="Version to start from (sft default: the packaged base "
                                 "model; dpo/kto default: the active version, the shipped "
                                 "SFT adapter included).")
        parser.add_argument("--name", default="", help="Name of the new model version.")
        parser.add_argument("--output", type=Path, default=None,
                            help="Run directory (default: var/training/<name>).")
        parser.add_argument("--fresh", action="store_true",
                            help="Discard checkpoints in the run directory and start over.")
        parser.add_argument("--save-steps", type=int, default=20,
                            help="Save a checkpoint every N optimiser steps.")
        for name, kind in hyperparameter_names().items():
            parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None,
                                help=_defaults_help(name))

    def handle(self, *args: Any, **options: Any) -> None:
        method = options["method"]
        try:
            data = resolve_data_file(options["data"], method)
            hparams = make_hyperparameters(method, {
                name: options[name] for name in hyperparameter_names()})
        except DataError as exc:
            raise CommandError(str(exc)) from exc
        try:
            base = resolve_version(options["base"]) if options["base"] \
                else default_start(method)
        except VersionNotFound as exc:
            raise CommandError(str(exc)) from exc
        name = (options["name"] or f"{base.name}+{method}-{data_label(data)}")[:128]
        if name == base.name:
            raise CommandError("--name must differ from the version trained from.")
        if ModelVersion.objects.filter(name=name, is_default=True).exists():
            raise CommandError(f"{name} is the default drafting model; choose another "
                               "--name.")
        output = options["output"] or Path(settings.VAR_DIR) / "training" / name
        adapter = Path(base.spec.adapter) if base.spec.adapter else None
        try:
            result = train(method, data, base.model_dir(), output, hparams,
                           base_model_name=base.name, adapter_dir=adapter,
                           fresh=options["fresh"], save_steps=max(1, options["save_steps"]))
        except DataError as exc:
            raise CommandError(str(exc)) from exc
        version = register_adapter(name, base, result.adapter_dir, result.record)
        verb = "Trained" if result.trained else "Already trained; registered"
        metrics = result.record["metrics"]
        start = f"continuing {base.name}'s adapter" if adapter else f"over {base.name}"
        self.stdout.write(f"{verb} {version.name} ({method.upper()}, {start}): loss "
                          f"{metrics['train_loss']} over {metrics['steps']} steps on "
                          f"{result.record['device']}. Adapter: {result.adapter_dir}. "
                          "Not promoted.")
