"""One generation interface over several backends.

- `transformers`: a local model (the packaged SmolLM2 by default, or any Hugging Face
  model directory) in this process, on the engine chosen when it was loaded.
- `openai`: any OpenAI-compatible chat server (vLLM, TGI, llama.cpp's server), for sites
  that serve a larger model on their own GPUs. Only the configured server sees the text.

Contract: `get_backend(spec)` returns the configured backend; a local one loads `spec`
(default: the active one, `inference.versions.active_spec`). Every backend takes the
same `SamplingParams` and returns `Generation`s with the same timings.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from django.conf import settings

from inference.generation import (
    Generation,
    StopCheck,
    TextCallback,
    engine_for,
    generate_batch,
)
from inference.loading import ModelSpec, get_model
from inference.sampling import GREEDY_DRAFT, SamplingParams
from inference.versions import active_spec


class GenerationError(RuntimeError):
    pass


class Backend(Protocol):
    kind: str
    model_name: str
    context_window: int

    def count_tokens(self, messages: list[dict[str, str]]) -> int: ...

    def generate(self, messages: list[dict[str, str]], *, max_new_tokens: int,
                 max_seconds: float, on_text: TextCallback | None = None,
                 should_stop: StopCheck | None = None,
                 sampling: SamplingParams = GREEDY_DRAFT) -> Generation: ...

    def generate_batch(self, conversations: list[list[dict[str, str]]], *,
                       max_new_tokens: int, max_seconds: float,
                       on_text: list[TextCallback | None],
                       should_stop: list[StopCheck | None],
                       sampling: SamplingParams = GREEDY_DRAFT) -> list[Generation]: ...


@dataclass
class TransformersBackend:
    """The model `spec` names (default: the active one), loaded in this process."""

    spec: ModelSpec | None = None
    kind = "transformers"
    model_name: str = field(init=False)
    context_window: int = field(init=False)

    def __post_init__(self) -> None:
        self.loaded = get_model(self.spec or active_spec())
        self.engine = engine_for(self.loaded)
        self.model_name = self.loaded.name
        self.context_window = int(getattr(self.loaded.model.config,
                                          "max_position_embeddings", 2048))

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        encoded = self.loaded.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True)
        return len(encoded["input_ids"])

    def generate(self, messages: list[dict[str, str]], *, max_new_tokens: int,
                 max_seconds: float, on_text: TextCallback | None = None,
                 should_stop: StopCheck | None = None,
                 sampling: SamplingParams = GREEDY_DRAFT) -> Generation:
        return self.generate_batch([messages], max_new_tokens=max_new_tokens,
                                   max_seconds=max_seconds, on_text=[on_text],
                                   should_stop=[should_stop], sampling=sampling)[0]

    def generate_batch(self, conversations: list[list[dict[str, str]]], *,
                       max_new_tokens: int, max_seconds: float,
                       on_text: list[TextCallback | None],
                       should_stop: list[StopCheck | None],
                       sampling: SamplingParams = GREEDY_DRAFT) -> list[Generation]:
        return generate_batch(self.loaded, conversations, max_new_tokens=max_new_tokens,
                              max_seconds=max_seconds, max_prompt_tokens=self.context_window,
                              sampling=sampling, on_text=on_text, should_stop=should_stop,
                              engine=self.engine)


@dataclass
class OpenAICompatibleBackend:
    base_url: str
    model_name: str
    api_key: str = ""
    context_window: int = 8192
    timeout: float = 120.0
    kind = "openai"

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        # The server's tokenizer is not available here; four characters a token is a
        # deliberately generous estimate for English.
        return sum(len(m["content"]) for m in messages) // 4 + 8 * len(messages)

    def generate(self, messages: list[dict[str, str]], *, max_new_tokens: int,
                 max_seconds: float, on_text: TextCallback | None = None,
                 should_stop: StopCheck | None = None,
                 sampling: SamplingParams = GREEDY_DRAFT) -> Generation:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model_name, "messages": messages, "max_tokens": max_new_tokens,
                "stream": True, "stream_options": {"include_usage": True},
                **_openai_sampling(sampling)}
        cancelled = False
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        usage: dict[str, int] = {}
        deadline = started + max_seconds
        try:
            with httpx.stream("POST", f"{self.base_url.rstrip('/')}/chat/completions",
                              json=body, headers=headers,
                              timeout=httpx.Timeout(min(self.timeout, max_seconds))) as response:
                if response.status_code != 200:
                    response.read()
                    raise GenerationError(f"The model server answered {response.status_code}: "
                                          f"{response.text[:200]}")
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices", []):
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            first = first or time.perf_counter()
                            parts.append(piece)
                            if on_text is not None:
                                on_text("".join(parts))
                    if should_stop is not None and should_stop():
                        cancelled = True
                        break
                    if time.perf_counter() > deadline:
                        break
        except httpx.HTTPError as exc:
            raise GenerationError(f"The model server could not be reached: {exc}") from exc
        return Generation.timed(
            "".join(parts),
            prompt_tokens=int(usage.get("prompt_tokens") or self.count_tokens(messages)),
            completion_tokens=int(usage.get("completion_tokens") or len(parts)),
            started=started, first_token_at=first, finished=time.perf_counter(),
            cancelled=cancelled,
        )

    def generate_batch(self, conversations: list[list[dict[str, str]]], *,
                       max_new_tokens: int, max_seconds: float,
                       on_text: list[TextCallback | None],
                       should_stop: list[StopCheck | None],
                       sampling: SamplingParams = GREEDY_DRAFT) -> list[Generation]:
        # The server batches concurrent requests itself (vLLM, llama.cpp's slots); one
        # after another keeps this client simple.
        return [self.generate(m, max_new_tokens=max_new_tokens, max_seconds=max_seconds,
                              on_text=t, should_stop=s, sampling=sampling)
                for m, t, s in zip(conversations, on_text, should_stop, strict=True)]


def _openai_sampling(sampling: SamplingParams) -> dict[str, object]:
    """The request fields for `sampling`. The repetition penalty is not sent: the API
    has none, and servers' own (vLLM's `repetition_penalty`) also penalise the prompt's
    tokens, which would stop a draft from citing its passages."""
    if sampling.greedy:
        return {"temperature": 0}
    fields: dict[str, object] = {"temperature": sampling.temperature,
                                 "top_p": sampling.top_p}
    if sampling.seed is not None:
        fields["seed"] = sampling.seed
    return fields


def get_backend(spec: ModelSpec | None = None) -> Backend:
    """The configured backend. A local one loads `spec` (default: the active model); a
    server serves the model it is configured with, so `spec` does not apply to it."""
    if settings.LLM_BACKEND == "openai":
        if not settings.LLM_API_BASE:
            raise GenerationError("PSY_LLM_BACKEND=openai needs PSY_LLM_API_BASE.")
        return OpenAICompatibleBackend(
            base_url=settings.LLM_API_BASE, model_name=settings.LLM_API_MODEL,
            api_key=settings.LLM_API_KEY, context_window=settings.LLM_CONTEXT_WINDOW,
            timeout=settings.LLM_MAX_SECONDS,
        )
    if settings.LLM_BACKEND != "transformers":
        raise GenerationError(f"Unknown PSY_LLM_BACKEND {settings.LLM_BACKEND!r}.")
    return TransformersBackend(spec)
