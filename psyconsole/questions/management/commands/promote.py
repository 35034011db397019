"""`manage.py promote VERSION [--force --reason R] [--by NAME]`: makes a model version the
default for drafting, through the promotion gate and the audit
(psyconsole.questions.services.model_versions)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inference.models import ModelVersion
from psyconsole.questions.services.model_versions import do_promote, promotion_problems


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
        problems = promotion_problems(version)
        if problems and not options["force"]:
            raise CommandError("Not promoted: " + "; ".join(problems)
                               + ". Use --force --reason to override.")
        do_promote(version, by=options["by"], forced_past=problems,
                   reason=options["reason"].strip())
        self.stdout.write(f"{version.name} is now the default drafting model."
                          + (f" Forced past: {'; '.join(problems)}." if problems else ""))
