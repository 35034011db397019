"""The drafting path: retrieve passages, build the prompt, generate, then post-process.

Contract: `compose_draft` (one question) and `compose_drafts` (several, in one batch)
take the question's text and two flags its caller computes from the screening:
`risky` (moderate or above: the draft must carry the crisis resources and must not
minimise) and `crisis` (high or above: the crisis path below), plus the screening
`factors` that choose a crisis template. They take a `ModelSpec` to draft with, or
draft with the active model. They read and write no database rows; storing the draft
is the caller's job.

Post-processing never changes a draft silently: every change is listed in `findings`
so the counsellor sees what was added and why.

A crisis question is drafted by the crisis path (`inference/crisis.py`): retrieval
restricted to the corpus's crisis articles, a vetted template holding the safety
question, the urge to get help now and the line on distance from means, and a
model-written opening of one or two sentences that is checked and dropped if it fails.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings

# Aliased: `crisis` is the flag compose_draft takes, as post_process and check_reply do.
from inference import crisis as crisis_path
from inference.backends import Backend, GenerationError, get_backend
from inference.generation import Generation, StopCheck, TextCallback
from inference.guardrails import Finding, check_crisis_structure, check_draft, check_minimising
from inference.loading import ModelSpec
from inference.prompts import (
    OPENING_PROMPT_VERSION,
    PROMPT_VERSION,
    build_messages,
    build_opening_messages,
)
from inference.sampling import SamplingParams
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
    # A crisis draft's vetted template (its citations are the template's); "" otherwise.
    template_text: str = ""

    @property
    def citations(self) -> list[int]:
        return sorted({int(n) for n in _CITATION.findall(self.raw_text + self.template_text)})


def crisis_block() -> str:
    return "If you are struggling to stay safe right now:\n" + "\n".join(
        f"- {line}" for line in settings.CRISIS_RESOURCES
    )


def post_process(raw: str, passages: list[Passage], *, risky: bool, crisis: bool = False
                 ) -> tuple[str, list[dict[str, str]]]:
    """Runs the guardrails and adds what every draft must carry; lists every change.
    A risky draft (moderate or above) is checked for minimising text; a crisis draft
    (high or above) also for the crisis structure: a direct safety question and an urge
    to get help now."""
    text = raw.strip()
    changes: list[Finding] = []
    if _FENCE_TAG.search(text):
        text = _FENCE_TAG.sub("", text).strip()
        changes.append(Finding("prompt_markup_removed", "info",
                               "The model echoed prompt markup; it was removed."))
    text, findings = check_draft(text, len(passages), [p.url for p in passages])
    if risky or crisis:
        findings += check_minimising(text, crisis=crisis)
    if crisis:
        findings += check_crisis_structure(text)
    order = {"block": 0, "warn": 1, "info": 2}
    findings = changes + sorted(findings, key=lambda f: order[f.severity])
    risky = risky or crisis
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
                 max_new_tokens: int, instruction: str = "", *, pinned: int = 0
                 ) -> tuple[list[dict[str, str]], list[Passage]]:
    """The prompt with as many passages as fit the context window. Passages go from the
    lowest-ranked up, but never the first `pinned`; the question itself is never cut."""
    kept = list(passages)
    while True:
        messages = build_messages(question, kept, instruction)
        if backend.count_tokens(messages) + max_new_tokens <= backend.context_window:
            return messages, kept
        if len(kept) <= pinned:
            raise GenerationError("The question alone does not fit the model's context "
                                  "window." if not kept else "The question and its "
                                  "pinned crisis passages do not fit the model's context "
                                  "window.")
        kept.pop()


def fit_opening(backend: Backend, question: str, max_new_tokens: int, instruction: str = ""
                ) -> list[dict[str, str]]:
    """The crisis opening's prompt. It holds no passages, so none can be trimmed: every
    crisis passage stays with the draft and its template."""
    messages = build_opening_messages(question, instruction)
    if backend.count_tokens(messages) + max_new_tokens > backend.context_window:
        raise GenerationError("The question alone does not fit the model's context window.")
    return messages


def _opening_tokens() -> int:
    return min(crisis_path.OPENING_MAX_NEW_TOKENS, settings.LLM_MAX_NEW_TOKENS)


def _streaming_with_template(on_text: TextCallback | None, plan: crisis_path.CrisisPlan,
                             passages: list[Passage]) -> TextCallback | None:
    """Streams a crisis draft: the vetted opening and template at once, then the model's
    suggested opening beneath them as it is written (or, with
    CRISIS_MODEL_OPENING_IN_DRAFT, in front of the template)."""
    if on_text is None:
        return None
    body = crisis_path.template(plan, passages)
    shown = f"{crisis_path.draft_opening(plan)}\n\n{body}"
    on_text(shown)

    def stream(text: str) -> None:
        text = _FENCE_TAG.sub("", text).strip()
        on_text(f"{text}\n\n{body}" if crisis_path.model_opening_in_draft()
                else f"{shown}\n\n(Suggested opening, being written: {text})")
    return stream


def _composed(generation: Generation, messages: list[dict[str, str]], kept: list[Passage],
              retrieved: list[Passage], backend: Backend, *, risky: bool,
              timings: dict[str, float], plan: crisis_path.CrisisPlan | None = None,
              question_text: str = "") -> ComposedDraft:
    template_text = ""
    if plan is not None:
        composed_text, template_text, crisis_findings = crisis_path.compose_text(
            plan, generation.text, question_text, kept)
        text, findings = post_process(composed_text, kept, risky=True, crisis=True)
        order = {"block": 0, "warn": 1, "info": 2}
        findings = sorted([f.as_dict() for f in crisis_findings] + findings,
                          key=lambda f: order[f["severity"]])
    else:
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
        prompt_version=OPENING_PROMPT_VERSION if plan is not None else PROMPT_VERSION,
        template_text=template_text,
        findings=findings,
        timings={**timings, "first_token_ms": generation.first_token_ms,
                 "generation_ms": generation.total_ms},
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
        cancelled=generation.cancelled,
    )


def _retrieve(question_text: str, plan: crisis_path.CrisisPlan | None) -> list[Passage]:
    return crisis_path.retrieve(question_text, plan) if plan is not None else search(question_text)


def compose_draft(question_text: str, *, risky: bool, crisis: bool = False,
                  instruction: str = "", on_text: TextCallback | None = None,
                  should_stop: StopCheck | None = None, sample_seed: int | None = None,
                  passages: list[Passage] | None = None, factors: Iterable[object] = (),
                  spec: ModelSpec | None = None) -> ComposedDraft:
    """Retrieves, prompts, generates and checks one draft. `on_text` receives the text
    so far while it is generated; `should_stop` is polled to cancel; `sample_seed`
    samples an alternative candidate instead of the greedy draft; `passages` reuses an
    earlier retrieval for the same question instead of searching again. A `crisis`
    draft takes the crisis path, its template chosen by the screening `factors` (see
    inference/crisis.py). `spec` drafts with that model instead of the active one."""
    started = time.perf_counter()
    plan = crisis_path.plan_for(crisis, factors)
    if passages is None:
        passages = _retrieve(question_text, plan)
    retrieved = time.perf_counter()
    backend = get_backend(spec)
    loaded_at = time.perf_counter()
    if plan is not None:
        max_new_tokens = _opening_tokens()
        messages, kept = fit_opening(backend, question_text, max_new_tokens,
                                     instruction), list(passages)
        on_text = _streaming_with_template(on_text, plan, kept)
    else:
        max_new_tokens = settings.LLM_MAX_NEW_TOKENS
        messages, kept = fit_passages(backend, question_text, passages, max_new_tokens,
                                      instruction)
    generation = backend.generate(messages, max_new_tokens=max_new_tokens,
                                  max_seconds=settings.LLM_MAX_SECONDS, on_text=on_text,
                                  should_stop=should_stop,
                                  sampling=SamplingParams.for_draft(sample_seed))
    composed = _composed(generation, messages, kept, passages, backend, risky=risky, timings={
        "retrieval_ms": round((retrieved - started) * 1000, 1),
        "model_load_ms": round((loaded_at - retrieved) * 1000, 1),
    }, plan=plan, question_text=question_text)
    composed.timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return composed


@dataclass
class DraftRequest:
    """One question of a batch; `risky`, `crisis` and `factors` as for compose_draft."""

    question_text: str
    risky: bool
    on_text: TextCallback | None = None
    should_stop: StopCheck | None = None
    crisis: bool = False
    factors: list[object] = field(default_factory=list)


def compose_drafts(requests: list[DraftRequest], *, spec: ModelSpec | None = None
                   ) -> list[ComposedDraft]:
    """Greedy drafts for several questions, generated together in one batch: the way
    the worker clears a queue of waiting questions faster than one at a time. (The
    worker never batches crisis questions; one given here still gets the crisis path.)"""
    started = time.perf_counter()
    plans = [crisis_path.plan_for(r.crisis, r.factors) for r in requests]
    retrieved = [_retrieve(r.question_text, plan)
                 for r, plan in zip(requests, plans, strict=True)]
    searched = time.perf_counter()
    backend = get_backend(spec)
    max_new_tokens = settings.LLM_MAX_NEW_TOKENS
    fitted = [(fit_opening(backend, r.question_text, max_new_tokens), list(p))
              if plan is not None else fit_passages(backend, r.question_text, p, max_new_tokens)
              for r, p, plan in zip(requests, retrieved, plans, strict=True)]
    streams = [_streaming_with_template(r.on_text, plan, p)
               if plan is not None else r.on_text
               for r, p, plan in zip(requests, retrieved, plans, strict=True)]
    generations = backend.generate_batch(
        [messages for messages, _ in fitted], max_new_tokens=max_new_tokens,
        max_seconds=settings.LLM_MAX_SECONDS, on_text=streams,
        should_stop=[r.should_stop for r in requests])
    timings = {"retrieval_ms": round((searched - started) * 1000 / len(requests), 1),
               "batch_size": len(requests)}
    drafts = [_composed(g, messages, kept, passages, backend, risky=r.risky, timings=timings,
                        plan=plan, question_text=r.question_text)
              for g, (messages, kept), passages, r, plan
              in zip(generations, fitted, retrieved, requests, plans, strict=True)]
    for draft in drafts:
        draft.timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return drafts
