"""`manage.py draft TEXT [--json] [--model VERSION]`: one draft, synchronously, through
the worker's screening, retrieval and model path; nothing is stored. `--model` resolves
a version and passes its spec down to the drafting path (no setting is changed)."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inference.drafting import compose_draft
from inference.loading import ModelSpec
from inference.versions import VersionNotFound, resolve_version
from psyconsole.questions.services.intake import check_question_text
from psyconsole.screening import screen
from psyconsole.screening.levels import is_crisis, is_risky


class Command(BaseCommand):
    help = ("Drafts a reply to a question synchronously, through the same screening, "
            "retrieval and model path as the worker, and prints it. Nothing is stored.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("text", help="The client's question.")
        parser.add_argument("--json", action="store_true", help="Print JSON.")
        parser.add_argument("--model", default="", help="A model version to draft with "
                            "instead of the active one (e.g. smollm2-135m-instruct, the "
                            "plain base model).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            text = check_question_text(options["text"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        spec: ModelSpec | None = None  # the active model, as the worker drafts
        if options["model"]:
            try:
                spec = resolve_version(options["model"]).spec
            except VersionNotFound as exc:
                raise CommandError(str(exc)) from exc
        screening = screen(text)
        draft = compose_draft(text, risky=is_risky(screening.risk_level),
                              crisis=is_crisis(screening.risk_level),
                              factors=screening.factors_as_json(), spec=spec)
        result = {
            "risk_level": screening.risk_level,
            "model": draft.model_name,
            "backend": draft.backend,
            "engine": draft.engine,
            "prompt_version": draft.prompt_version,
            "draft": draft.text,
            "raw_text": draft.raw_text,
            "citations": draft.citations,
            "passages": [
                {"n": n, "score": p.score, "title": p.article_title, "url": p.url,
                 "heading": p.heading}
                for n, p in enumerate(draft.passages, start=1)
            ],
            "findings": draft.findings,
            "timings": draft.timings,
            "prompt_tokens": draft.prompt_tokens,
            "completion_tokens": draft.completion_tokens,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
            return
        self.stdout.write(draft.text)
        self.stdout.write(f"\n-- {draft.model_name}, risk {screening.risk_level}, "
                          f"{draft.completion_tokens} tokens in "
                          f"{draft.timings['generation_ms']:.0f} ms")
