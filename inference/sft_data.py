"""The supervised fine-tuning record: TRL's conversational format with the passages in
the prompt, plus the metadata the evaluation needs.

One record per line:
    {"id", "messages": [system, user, assistant], "question", "passages", "risk_level",
     "topics"}
`messages` is exactly what the drafting path sends the model (inference.prompts), with
the reviewed reply as the assistant turn, so training, evaluation and drafting all see
one prompt format. The export of reviewed replies writes the same records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.jsonl import json_lines

if TYPE_CHECKING:
    from retrieval.service import Passage

PASSAGE_FIELDS = ("article_slug", "article_title", "url", "heading", "text")


class DataError(ValueError):
    """A training or evaluation file that cannot be used, with the line at fault."""


def passage_dict(passage: Passage) -> dict[str, str]:
    return {name: str(getattr(passage, name)) for name in PASSAGE_FIELDS}


def passage_from_dict(data: dict[str, Any]) -> Passage:
    # Imported here so that training, which reads records, runs without Django or FAISS.
    from retrieval.service import Passage

    return Passage(chunk_id=0, score=0.0, start_offset=0, end_offset=0,
                   **{name: str(data.get(name, "")) for name in PASSAGE_FIELDS})


def make_record(*, record_id: str, question: str, passages: list[dict[str, str]],
                reply: str, risk_level: str, topics: Iterable[str] = ()) -> dict[str, Any]:
    from inference.prompts import PROMPT_VERSION, build_messages

    prompt = build_messages(question, [passage_from_dict(p) for p in passages])
    return {
        "id": record_id,
        "messages": [*prompt, {"role": "assistant", "content": reply.strip()}],
        "question": question,
        "passages": passages,
        "risk_level": risk_level,
        "topics": list(topics),
        "prompt_version": PROMPT_VERSION,
    }


def check_record(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object.")
    messages = record.get("messages")
    if (not isinstance(messages, list) or len(messages) < 2
            or not all(isinstance(m, dict) and isinstance(m.get("content"), str)
                       and m.get("role") in {"system", "user", "assistant"}
                       for m in messages)):
        raise DataError(f"{where}: 'messages' must be a list of {{role, content}} turns.")
    if messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
        raise DataError(f"{where}: the last turn must be a non-empty assistant reply.")
    passages = record.get("passages", [])
    if not isinstance(passages, list) or not all(isinstance(p, dict) for p in passages):
        raise DataError(f"{where}: 'passages' must be a list of objects.")
    return record


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"Cannot read {path}: {error.strerror}") from error
    for line in json_lines(raw):
        if line.record is None:
            raise DataError(f"{path}:{line.number}: {line.error}.")
        yield check_record(line.record, f"{path}:{line.number}")


def load_records(path: Path) -> list[dict[str, Any]]:
    records = list(read_records(path))
    if not records:
        raise DataError(f"{path} holds no records.")
    return records


def data_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reference_reply(record: dict[str, Any]) -> str:
    return record["messages"][-1]["content"]


def prompt_messages(record: dict[str, Any]) -> list[dict[str, str]]:
    return record["messages"][:-1]
