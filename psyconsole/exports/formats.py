"""The three training formats, as TRL reads them unchanged (conversational form).

- SFT: `{"messages": [...prompt, {"role": "assistant", "content": final reply}]}`: the
  exact messages the model was sent when it drafted, with the reply a professional
  approved as the assistant turn.
- DPO: `{"prompt": [...], "chosen": [assistant], "rejected": [assistant]}`: chosen is
  the approved reply; rejected is the model's draft when the counsellor changed it
  materially, or a candidate the counsellor did not choose.
- KTO: `{"prompt": [...], "completion": [assistant], "label": bool}`: the approved reply
  is desirable; a draft changed materially, or rated poorly overall, is undesirable; a
  draft approved as it stood, and rated well, is desirable.

Why "materially" is a share of words (EXPORT_MATERIAL_EDIT, 0.2 by default): a
counsellor who fixes a typo, a name or one phrase has accepted the draft, and calling
it "rejected" would teach the model that good drafts are bad. One changed word in five
is roughly where a counsellor has rewritten a sentence or more of a reply of the usual
length (80 to 150 words): the reply says something the draft did not. It is measured on
words, not characters, so punctuation and spacing fixes count for nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

Message = dict[str, str]

FORMATS = ("sft", "dpo", "kto")
GOOD_OVERALL = 4  # an unchanged draft rated at least this is a desirable KTO example
POOR_OVERALL = 2  # a draft rated at most this is an undesirable one


def word_edit_share(draft: str, final: str) -> float:
    """The share of words changed between the draft and the final reply: 0.0 the same,
    1.0 nothing in common."""
    a, b = draft.split(), final.split()
    if not a and not b:
        return 0.0
    return round(1.0 - SequenceMatcher(None, a, b, autojunk=False).ratio(), 4)


@dataclass(frozen=True)
class Pair:
    """What one approved reply teaches, with its text already scrubbed of PII."""

    prompt: list[Message]
    final: str
    draft: str | None  # the draft the reply was based on, if any
    other_candidates: list[str] = field(default_factory=list)  # alternatives not chosen
    overall: int | None = None


def _assistant(text: str) -> list[Message]:
    return [{"role": "assistant", "content": text}]


def sft_records(pair: Pair) -> Iterator[dict[str, Any]]:
    yield {"messages": [*pair.prompt, *_assistant(pair.final)]}


def dpo_records(pair: Pair, material_edit: float) -> Iterator[dict[str, Any]]:
    rejected = []
    if pair.draft is not None and word_edit_share(pair.draft, pair.final) >= material_edit:
        rejected.append(pair.draft)
    rejected += [c for c in pair.other_candidates if c.strip() and c != pair.final]
    for text in rejected:
        yield {"prompt": pair.prompt, "chosen": _assistant(pair.final),
               "rejected": _assistant(text)}


def kto_records(pair: Pair, material_edit: float) -> Iterator[dict[str, Any]]:
    yield {"prompt": pair.prompt, "completion": _assistant(pair.final), "label": True}
    if pair.draft is None or pair.draft == pair.final:
        return
    changed = word_edit_share(pair.draft, pair.final) >= material_edit
    poor = pair.overall is not None and pair.overall <= POOR_OVERALL
    if changed or poor:
        yield {"prompt": pair.prompt, "completion": _assistant(pair.draft), "label": False}
    elif pair.overall is not None and pair.overall >= GOOD_OVERALL:
        yield {"prompt": pair.prompt, "completion": _assistant(pair.draft), "label": True}


def records(fmt: str, pair: Pair, material_edit: float) -> Iterator[dict[str, Any]]:
    if fmt == "sft":
        return sft_records(pair)
    if fmt == "dpo":
        return dpo_records(pair, material_edit)
    if fmt == "kto":
        return kto_records(pair, material_edit)
    raise ValueError(f"Unknown format {fmt!r}; one of {', '.join(FORMATS)}.")
