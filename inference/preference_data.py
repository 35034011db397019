"""Preference records for DPO and KTO, in TRL's conversational form (what the export
writes), checked line by line before any model is loaded.

    DPO: {"prompt": [turns], "chosen": [assistant turn], "rejected": [assistant turn]}
    KTO: {"prompt": [turns], "completion": [assistant turn], "label": true | false}

A turn is {"role": "system" | "user" | "assistant", "content": text}. The prompt ends
with the client's (user) turn, as the drafting prompt does. Other keys are ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from inference.sft_data import DataError
from retrieval.jsonl import json_lines

ROLES = {"system", "user", "assistant"}
FIELDS = {"dpo": ("prompt", "chosen", "rejected"), "kto": ("prompt", "completion", "label")}
_LOOKS_LIKE = {"messages": "an SFT file (--method sft)",
               "chosen": "a DPO file (--method dpo)",
               "label": "a KTO file (--method kto)"}


def _check_turns(value: Any, name: str, where: str) -> list[dict[str, str]]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(t, dict) and t.get("role") in ROLES
                       and isinstance(t.get("content"), str) for t in value)):
        raise DataError(f"{where}: '{name}' must be a non-empty list of {{role, content}} "
                        "turns (TRL's conversational format).")
    return [{"role": t["role"], "content": t["content"]} for t in value]


def _check_reply(value: Any, name: str, where: str) -> list[dict[str, str]]:
    turns = _check_turns(value, name, where)
    if any(t["role"] != "assistant" for t in turns):
        raise DataError(f"{where}: '{name}' must hold assistant turns only.")
    if not "".join(t["content"] for t in turns).strip():
        raise DataError(f"{where}: '{name}' must be a non-empty assistant reply.")
    return turns


def check_record(record: Any, method: str, where: str) -> dict[str, Any]:
    """The fields TRL needs, checked; raises DataError naming the line."""
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object.")
    fields = FIELDS[method]
    missing = [name for name in fields if name not in record]
    if missing:
        hint = next((what for key, what in _LOOKS_LIKE.items()
                     if key in record and key not in fields), "")
        raise DataError(f"{where}: missing {', '.join(repr(m) for m in missing)} for "
                        f"{method.upper()}" + (f"; this looks like {hint}." if hint else "."))
    prompt = _check_turns(record["prompt"], "prompt", where)
    if prompt[-1]["role"] != "user":
        raise DataError(f"{where}: the prompt must end with the client's (user) turn.")
    if method == "dpo":
        chosen = _check_reply(record["chosen"], "chosen", where)
        rejected = _check_reply(record["rejected"], "rejected", where)
        if chosen == rejected:
            raise DataError(f"{where}: 'chosen' and 'rejected' are the same reply, which "
                            "teaches nothing.")
        return {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    completion = _check_reply(record["completion"], "completion", where)
    if not isinstance(record["label"], bool):
        raise DataError(f"{where}: 'label' must be true or false.")
    return {"prompt": prompt, "completion": completion, "label": record["label"]}


def read_records(path: Path, method: str) -> Iterator[dict[str, Any]]:
    if method not in FIELDS:
        raise DataError(f"No preference format {method!r}; one of {', '.join(FIELDS)}.")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"Cannot read {path}: {error.strerror}") from error
    for line in json_lines(raw):
        if line.record is None:
            raise DataError(f"{path}:{line.number}: {line.error}.")
        yield check_record(line.record, method, f"{path}:{line.number}")


def load_records(path: Path, method: str) -> list[dict[str, Any]]:
    records = list(read_records(path, method))
    if not records:
        raise DataError(f"{path} holds no records.")
    return records
