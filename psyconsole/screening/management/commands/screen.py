from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from psyconsole.screening import screen
from retrieval.jsonl import json_lines

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class Command(BaseCommand):
    help = ('Screens a JSONL file of {"id", "text"} lines through the same code path as '
            "intake and prints one JSON line per input: id, risk_level, factors, topics.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            raw = options["file"].read_bytes()
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        for line in json_lines(raw, decode_errors="replace"):
            text = (line.record or {}).get("text")
            if line.record is None or not isinstance(text, str):
                error = line.error or ("text must be a string" if "text" in line.record
                                       else "a record needs a text")
                self.stdout.write(json.dumps({"id": None, "line": line.number,
                                              "error": error}))
                continue
            row = line.record
            # A "\ud800" escape: screened like a stray byte (as U+FFFD), because a message
            # must never go unscreened for one bad character.
            result = screen(_LONE_SURROGATE.sub("\ufffd", text))
            output = json.dumps({
                "id": row.get("id"), "risk_level": result.risk_level,
                "factors": [{"factor": f.factor, "level": f.level, "evidence": f.evidence,
                             "start": f.start, "end": f.end} for f in result.factors],
                "topics": result.topics, "confidence": result.confidence,
            }, ensure_ascii=False)
            if _LONE_SURROGATE.search(output):  # in the id: escaped, or stdout cannot
                output = json.dumps(json.loads(output))  # take the line
            self.stdout.write(output)
