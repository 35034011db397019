"""The drafting path: retrieve passages, build the prompt, generate, then post-process.

Post-processing never changes a draft silently: every change is listed in `findings`
so the counsellor sees what was added and why.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from django.conf import settings

from inference.generation import generate
from inference.guardrails import Finding, check_draft
from inference.loading import get_model
from inference.prompts import PROMPT_VERSION, build_messages
from retrieval.service import Passage, search

_CITATION = re.compile(r"\[(\d{1,2})\]")
_FENCE_TAG = re.compile(r"</?client_message>")


@dataclass
class ComposedDraft:
    text: str
    raw_text: str
    messages: list[dict[str, str]]
    passages: list[Passage]
    model_name: str
    prompt_version: str = PROMPT_VERSION
    findings: list[dict[str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def citations(self) -> list[int]:
        return sorted({int(n) for n in _CITATION.findall(self.raw_text)})


def crisis_block() -> str:
    return "If you are struggling to stay safe right now:\n" + "\n".join(
        f"- {line}" for line in settings.CRISIS_RESOURCES
    )


def post_process(raw: str, passages: list[Passage], *, risky: bool
                 ) -> tuple[str, list[dict[str, str]]]:
    """Runs the guardrails and adds what every draft must carry; lists every change."""
    text = raw.strip()
    changes: list[Finding] = []
    if _FENCE_TAG.search(text):
        text = _FENCE_TAG.sub("", text).strip()
        changes.append(Finding("prompt_markup_removed", "info",
                               "The model echoed prompt markup; it was removed."))
    text, findings = check_draft(text, len(passages), [p.url for p in passages])
    findings = changes + findings
    if risky and not all(line in text for line in settings.CRISIS_RESOURCES):
        text = f"{text}\n\n{crisis_block()}"
        findings.append(Finding("crisis_resources_added", "info",
                                "The question was screened moderate risk or above, so the "
                                "configured crisis resources were added."))
    if passages:
        text += "\n\nSources:\n" + "\n".join(
            f"[{n}] {p.article_title} ({p.url})" for n, p in enumerate(passages, start=1)
        )
        findings.append(Finding("sources_listed", "info",
                                "The retrieved sources were listed under the draft."))
    return text, [f.as_dict() for f in findings]


def compose_draft(question_text: str, *, risky: bool) -> ComposedDraft:
    started = time.perf_counter()
    passages = search(question_text)
    retrieved = time.perf_counter()
    messages = build_messages(question_text, passages)
    loaded = get_model()
    loaded_at = time.perf_counter()
    generation = generate(loaded, messages)
    text, findings = post_process(generation.text, passages, risky=risky)
    return ComposedDraft(
        text=text,
        raw_text=generation.text,
        messages=messages,
        passages=passages,
        model_name=loaded.name,
        findings=findings,
        timings={
            "retrieval_ms": round((retrieved - started) * 1000, 1),
            "model_load_ms": round((loaded_at - retrieved) * 1000, 1),
            "first_token_ms": generation.first_token_ms,
            "generation_ms": generation.total_ms,
            "total_ms": round((time.perf_counter() - started) * 1000, 1),
        },
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
    )
