"""The drafting path: retrieve passages, build the prompt, generate, then post-process.

Post-processing never changes a draft silently: every change is listed in `findings`
so the counsellor sees what was added and why.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from django.conf import settings

from inference.backends import Backend, GenerationError, get_backend
from inference.generation import Generation, StopCheck, TextCallback
from inference.guardrails import Finding, check_draft
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
    backend: str = "transformers"
    engine: str = ""
    prompt_version: str = PROMPT_VERSION
    findings: list[dict[str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cancelled: bool = False

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


def fit_passages(backend: Backend, question: str, passages: list[Passage],
                 max_new_tokens: int, instruction: str = ""
                 ) -> tuple[list[dict[str, str]], list[Passage]]:
    """The prompt with as many passages as fit the context window. Passages go from the
    lowest-ranked up; the question itself is never cut."""
    kept = list(passages)
    while True:
        messages = build_messages(question, kept, instruction)
        if backend.count_tokens(messages) + max_new_tokens <= backend.context_window:
            return messages, kept
        if not kept:
            raise GenerationError("The question alone does not fit the model's context "
                                  "window.")
        kept.pop()


def _composed(generation: Generation, messages: list[dict[str, str]], kept: list[Passage],
              retrieved: list[Passage], backend: Backend, *, risky: bool,
              timings: dict[str, float]) -> ComposedDraft:
    text, findings = post_process(generation.text, kept, risky=risky)
    if len(kept) < len(retrieved):
        findings.insert(0, Finding(
            "passages_trimmed", "info",
            f"{len(retrieved) - len(kept)} lower-ranked sources were left out so the prompt "
            "fits the model's context window.").as_dict())
    return ComposedDraft(
        text=text,
        raw_text=generation.text,
        messages=messages,
        passages=kept,
        model_name=backend.model_name,
        backend=backend.kind,
        engine=generation.engine,
        findings=findings,
        timings={**timings, "first_token_ms": generation.first_token_ms,
                 "generation_ms": generation.total_ms},
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
        cancelled=generation.cancelled,
    )


def compose_draft(question_text: str, *, risky: bool, instruction: str = "",
                  on_text: TextCallback | None = None, should_stop: StopCheck | None = None,
                  sample_seed: int | None = None,
                  passages: list[Passage] | None = None) -> ComposedDraft:
    """Retrieves, prompts, generates and checks one draft. `on_text` receives the text
    so far while it is generated; `should_stop` is polled to cancel; `sample_seed`
    samples an alternative candidate instead of the greedy draft; `passages` reuses an
    earlier retrieval for the same question instead of searching again."""
    started = time.perf_counter()
    if passages is None:
        passages = search(question_text)
    retrieved = time.perf_counter()
    backend = get_backend()
    loaded_at = time.perf_counter()
    max_new_tokens = settings.LLM_MAX_NEW_TOKENS
    messages, kept = fit_passages(backend, question_text, passages, max_new_tokens,
                                  instruction)
    generation = backend.generate(messages, max_new_tokens=max_new_tokens,
                                  max_seconds=settings.LLM_MAX_SECONDS, on_text=on_text,
                                  should_stop=should_stop, sample_seed=sample_seed)
    composed = _composed(generation, messages, kept, passages, backend, risky=risky, timings={
        "retrieval_ms": round((retrieved - started) * 1000, 1),
        "model_load_ms": round((loaded_at - retrieved) * 1000, 1),
    })
    composed.timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return composed


@dataclass
class DraftRequest:
    question_text: str
    risky: bool
    on_text: TextCallback | None = None
    should_stop: StopCheck | None = None


def compose_drafts(requests: list[DraftRequest]) -> list[ComposedDraft]:
    """Greedy drafts for several questions, generated together in one batch: the way
    the worker clears a queue of waiting questions faster than one at a time."""
    started = time.perf_counter()
    retrieved = [search(r.question_text) for r in requests]
    searched = time.perf_counter()
    backend = get_backend()
    max_new_tokens = settings.LLM_MAX_NEW_TOKENS
    fitted = [fit_passages(backend, r.question_text, p, max_new_tokens)
              for r, p in zip(requests, retrieved, strict=True)]
    generations = backend.generate_batch(
        [messages for messages, _ in fitted], max_new_tokens=max_new_tokens,
        max_seconds=settings.LLM_MAX_SECONDS, on_text=[r.on_text for r in requests],
        should_stop=[r.should_stop for r in requests])
    timings = {"retrieval_ms": round((searched - started) * 1000 / len(requests), 1),
               "batch_size": len(requests)}
    drafts = [_composed(g, messages, kept, passages, backend, risky=r.risky, timings=timings)
              for g, (messages, kept), passages, r
              in zip(generations, fitted, retrieved, requests, strict=True)]
    for draft in drafts:
        draft.timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return drafts
