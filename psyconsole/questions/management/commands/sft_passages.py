"""`manage.py sft_passages QUESTIONS.jsonl`: the first step of writing a training
example. It screens each question, so it sits with the console's screening."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inference.sft_data import passage_dict
from psyconsole.screening.service import screen
from retrieval.service import search


class Command(BaseCommand):
    help = ("Adds the passages the drafting path would retrieve, and the intake risk level, "
            "to {id, question} lines: the first step of writing a training example.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("questions", type=Path)
        parser.add_argument("--k", type=int, default=3)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["questions"]
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {path}: {error}") from error
        for number, line in enumerate(tqdm(lines, file=sys.stderr), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                question = str(item["question"]).strip()
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise CommandError(f"{path}:{number}: expected {{id, question}}") from error
            screening = screen(question)
            item["risk_level"] = screening.risk_level
            item["topics"] = screening.topics
            item["passages"] = [passage_dict(p) for p in search(question, options["k"])]
            self.stdout.write(json.dumps(item, ensure_ascii=False))
