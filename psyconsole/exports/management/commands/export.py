"""manage.py export: the same service as the staff page and the API, run here."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from psyconsole.exports.formats import FORMATS
from psyconsole.exports.management.filters import add_filter_arguments, filters_from_options


class Command(BaseCommand):
    help = ("Exports approved, annotated replies as TRL training data (SFT, DPO, KTO), "
            "split by question, with PII scrubbed, evaluation questions left out, a "
            "manifest and a dataset card. Needs a user with exports.export_annotations.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--user", required=True,
                            help="the staff user the export is made for (audited)")
        parser.add_argument("--formats", default=",".join(FORMATS))
        add_filter_arguments(parser)
        parser.add_argument("--json", action="store_true", help="print the manifest")

    def handle(self, *args: Any, **options: Any) -> None:
        from psyconsole.exports.service import (
            check_export_filters,
            do_request_export,
            do_run_export,
        )

        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        chosen = {"formats": options["formats"], **filters_from_options(options)}
        try:
            filters = check_export_filters(chosen)
            export = do_request_export(user, filters, queue=False)
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError(str(exc)) from exc
        with tqdm(desc="Exporting", unit="review") as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            export = do_run_export(export.pk, progress=progress)
        if options["json"]:
            self.stdout.write(json.dumps(export.manifest, indent=2, default=str))
        else:
            counts = export.manifest["counts"]
            self.stdout.write(f"Export #{export.pk}: {counts['reviews_exported']} of "
                              f"{counts['reviews_seen']} reviews into {export.directory}")
            for path, info in export.manifest["files"].items():
                self.stdout.write(f"  {path}: {info['rows']} rows")
            for why, n in counts["left_out"].items():
                self.stdout.write(f"  left out, {why}: {n}")
