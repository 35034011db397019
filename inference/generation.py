"""Text generation with time and token limits, on the locally loaded model."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from inference.loading import LoadedModel


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    first_token_ms: float
    total_ms: float


class _FirstTokenTimer:
    """A streamer that only notes when the first new token arrives."""

    def __init__(self) -> None:
        self.first_at: float | None = None
        self._skipped_prompt = False

    def put(self, value: object) -> None:
        if not self._skipped_prompt:
            self._skipped_prompt = True  # generate() first hands over the prompt itself
            return
        if self.first_at is None:
            self.first_at = time.perf_counter()

    def end(self) -> None:
        pass


def generate(loaded: LoadedModel, messages: list[dict[str, str]], *,
             max_new_tokens: int | None = None, max_seconds: float | None = None,
             max_prompt_tokens: int = 1800) -> Generation:
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    input_ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                              return_tensors="pt", return_dict=True)["input_ids"]
    if input_ids.shape[1] > max_prompt_tokens:
        raise ValueError(f"Prompt has {input_ids.shape[1]} tokens; the limit is "
                         f"{max_prompt_tokens}.")
    timer = _FirstTokenTimer()
    started = time.perf_counter()
    with loaded.lock, torch.inference_mode():
        output = model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new_tokens or settings.LLM_MAX_NEW_TOKENS,
            max_time=max_seconds or settings.LLM_MAX_SECONDS,
            do_sample=False,
            repetition_penalty=1.1,
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            streamer=timer,
        )
    finished = time.perf_counter()
    new_tokens = output[0, input_ids.shape[1]:]
    text = tokenizer.decode(new_tokens, skip_special_tokens=True).strip()
    first = timer.first_at or finished
    return Generation(
        text=text,
        prompt_tokens=int(input_ids.shape[1]),
        completion_tokens=int(new_tokens.shape[0]),
        first_token_ms=round((first - started) * 1000, 1),
        total_ms=round((finished - started) * 1000, 1),
    )
