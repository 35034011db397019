"""manage.py retrain: the loop in one command (psyconsole.exports.retrain), the same
service as the staff page and its Celery task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from inference.training import METHODS
from psyconsole.exports.management.filters import add_filter_arguments, filters_from_options


class Command(BaseCommand):
    help = ("Exports reviewed replies, trains a new version on them (DPO by default) from "
            "the current default, evaluates both on the held-out set, and promotes the new "
            "one only if quality is no worse and no safety figure regresses. Every step is "
            "recorded on a RetrainRun and audited. Needs exports.export_annotations.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--user", required=True,
                            help="the staff user the run is made for (audited)")
        parser.add_argument("--method", choices=METHODS, default="dpo")
        parser.add_argument("--epochs", type=float)
        parser.add_argument("--max-steps", type=int, help="stop after N steps (quick runs)")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--learning-rate", type=float)
        parser.add_argument("--beta", type=float, help="DPO / KTO beta")
        parser.add_argument("--max-length", type=int)
        parser.add_argument("--eval-set", type=Path, default=None,
                            help="held-out SFT set (default: fixtures/eval/sft_heldout.jsonl)")
        parser.add_argument("--eval-limit", type=int, default=0,
                            help="evaluate on the first N examples only")
        parser.add_argument("--max-new-tokens", type=int, default=0)
        parser.add_argument("--no-promote", action="store_true",
                            help="evaluate and report, but do not promote")
        parser.add_argument("--queue", action="store_true",
                            help="run it in the Celery worker instead of here")
        parser.add_argument("--resume", type=int, metavar="RUN_ID",
                            help="continue a failed or interrupted run")
        add_filter_arguments(parser)  # the export's, as `manage.py export` takes them
        parser.add_argument("--json", action="store_true", help="print the run's figures")

    def handle(self, *args: Any, **options: Any) -> None:
        from psyconsole.exports.models import RetrainRun
        from psyconsole.exports.retrain import (
            check_retrain_options,
            do_request_retrain,
            do_run_retrain,
        )

        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        if options["resume"]:
            run = RetrainRun.objects.filter(pk=options["resume"]).first()
            if run is None:
                raise CommandError(f"No retrain run #{options['resume']}.")
            if not user.has_perm("exports.export_annotations"):
                raise CommandError(f"{user.get_username()} may not export annotations.")
        else:
            run = self._request(user, options, check_retrain_options, do_request_retrain)
        if options["queue"]:
            from psyconsole.exports.tasks import run_retrain

            run_retrain.delay(run.pk)
            self.stdout.write(f"Retrain #{run.pk} queued for the worker.")
            return
        self.stdout.write(f"Retrain #{run.pk}:")
        try:
            run = do_run_retrain(run.pk, say=lambda message: self.stdout.write(f"  {message}"))
        except Exception as exc:
            raise CommandError(f"Retrain #{run.pk} failed: {exc}") from exc
        if run.state != RetrainRun.State.DONE:
            raise CommandError(f"Retrain #{run.pk} is {run.state}; another worker holds it.")
        if options["json"]:
            self.stdout.write(json.dumps({"id": run.pk, "promoted": run.promoted,
                                          "decision": run.decision,
                                          "figures": run.figures}, indent=2, default=str))
        else:
            self.stdout.write(self._table(run))
            self.stdout.write(run.decision)

    def _request(self, user: Any, options: dict[str, Any], check: Any, request: Any) -> Any:
        filters = filters_from_options(options)
        hyperparameters = {name: options[name] for name in (
            "epochs", "max_steps", "batch_size", "learning_rate", "beta", "max_length")
            if options[name] is not None}
        try:
            checked = check({
                "method": options["method"], "hyperparameters": hyperparameters,
                "eval_set": str(options["eval_set"]) if options["eval_set"] else "",
                "eval_limit": options["eval_limit"],
                "max_new_tokens": options["max_new_tokens"],
                "promote": not options["no_promote"],
                "filters": filters})
            # Queued only on --queue, after the row exists (see handle).
            return request(user, checked, queue=False)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except PermissionDenied as exc:
            raise CommandError(f"{user.get_username()} may not export annotations "
                               "(exports.export_annotations).") from exc

    def _table(self, run: Any) -> str:
        from psyconsole.exports.retrain import side_by_side

        rows = side_by_side(run)
        evaluation = run.figures.get("evaluation", {})
        lines = [f"| metric | {evaluation.get('baseline', {}).get('version', 'default')} "
                 f"(default) | {evaluation.get('candidate', {}).get('version', 'new')} "
                 "(new) | |", "|---|---:|---:|---|"]
        lines += [f"| {r['metric']}{' (safety)' if r['safety'] else ''} | {r['baseline']} | "
                  f"{r['candidate']} | {r['verdict']} |" for r in rows]
        return "\n".join(lines)
