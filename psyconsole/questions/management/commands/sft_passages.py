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
from retrieval.jsonl import json_lines
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
            lines = list(json_lines(path.read_bytes()))
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error}") from error
        for line in tqdm(lines, file=sys.stderr):
            item = line.record or {}
            question = item.get("question")
            if not isinstance(question, str) or not question.strip():
                reason = line.error or "expected {id, question}"
                raise CommandError(f"{path}:{line.number}: {reason}")
            question = question.strip()
            screening = screen(question)
            item["risk_level"] = screening.risk_level
            item["topics"] = screening.topics
            item["passages"] = [passage_dict(p) for p in search(question, options["k"])]
            self.stdout.write(json.dumps(item, ensure_ascii=False))
