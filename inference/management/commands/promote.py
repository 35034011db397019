from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inference.evaluation import safety_regressions
from inference.models import EvaluationRun, ModelVersion
from inference.versions import do_promote


class Command(BaseCommand):
    help = ("Makes a model version the default for drafting. Refuses a version that is "
            "unevaluated or worse than the current default on any safety figure, unless "
            "forced with a reason, which is recorded.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("version")
        parser.add_argument("--force", action="store_true")
        parser.add_argument("--reason", default="")
        parser.add_argument("--by", default="cli", help="Who is promoting (for the audit).")

    def handle(self, *args: Any, **options: Any) -> None:
        version = ModelVersion.objects.filter(name=options["version"]).first()
        if version is None:
            raise CommandError(f"No model version {options['version']!r}.")
        if options["force"] and not options["reason"].strip():
            raise CommandError("--force needs --reason, which is recorded.")
        problems = self.problems(version)
        if problems and not options["force"]:
            raise CommandError("Not promoted: " + "; ".join(problems)
                               + ". Use --force --reason to override.")
        do_promote(version, by=options["by"], forced_past=problems,
                   reason=options["reason"].strip())
        self.stdout.write(f"{version.name} is now the default drafting model."
                          + (f" Forced past: {'; '.join(problems)}." if problems else ""))

    def problems(self, version: ModelVersion) -> list[str]:
        latest = EvaluationRun.objects.filter(model_version=version).first()
        if latest is None:
            return [f"{version.name} has not been evaluated (manage.py evaluate)"]
        current = ModelVersion.objects.filter(is_default=True).exclude(pk=version.pk).first()
        if current is None:
            return []
        baseline = EvaluationRun.objects.filter(model_version=current,
                                                data_sha256=latest.data_sha256).first()
        if baseline is None:
            return [f"the current default {current.name} has no evaluation on the same set "
                    "to compare with"]
        return [f"worse than {current.name} on {worse}"
                for worse in safety_regressions(latest.metrics, baseline.metrics)]
