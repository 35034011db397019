"""Text generation on the locally loaded model, with time and token limits, live text
for streaming, cancellation, and seeded sampling for alternative candidates."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from inference.loading import LoadedModel

REPETITION_PENALTY = 1.1

TextCallback = Callable[[str], None]
StopCheck = Callable[[], bool]


def engine_name(loaded: LoadedModel) -> str:
    """int4: inference.decoder; float32: transformers' generate."""
    return "int4" if loaded.decoder is not None else "float32"


def generation_settings(loaded: LoadedModel) -> str:
    """Recorded with evaluations: a change to how text is generated invalidates cached
    outputs."""
    return (f"greedy, repetition penalty {REPETITION_PENALTY} on the reply's own tokens, "
            f"{engine_name(loaded)} engine")


def reply_repetition_penalty(prompt_length: int, penalty: float = REPETITION_PENALTY
                             ) -> object:
    """transformers' repetition penalty, applied to the reply's own tokens only. The
    stock processor also penalises every prompt token, which stops a draft from quoting
    its passages or writing the [1], [2] citations it was given."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    class ReplyRepetitionPenalty(LogitsProcessor):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            reply = input_ids[:, prompt_length:]
            if reply.shape[1] == 0:
                return scores
            seen = torch.gather(scores, 1, reply)
            seen = torch.where(seen < 0, seen * penalty, seen / penalty)
            return scores.scatter(1, reply, seen)

    return LogitsProcessorList([ReplyRepetitionPenalty()])


def row_cancel(stops: list[StopCheck | None]) -> object:
    """A stopping criterion that ends each row of a batch when its own check says so;
    `.stopped[i]` tells afterwards which rows were cancelled."""
    import torch
    from transformers import StoppingCriteria

    class RowCancelled(StoppingCriteria):
        def __init__(self) -> None:
            self.stopped = [False] * len(stops)

        def __call__(self, ids: torch.Tensor, scores: torch.Tensor,
                     **kwargs: object) -> torch.Tensor:
            for row, stop in enumerate(stops):
                self.stopped[row] = self.stopped[row] or bool(stop and stop())
            return torch.tensor(self.stopped, dtype=torch.bool)

    return RowCancelled()


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    first_token_ms: float
    total_ms: float
    cancelled: bool = False
    # How a local model generated ("int4" or "float32"); empty for a server.
    engine: str = ""


def generate(loaded: LoadedModel, messages: list[dict[str, str]], *,
             max_new_tokens: int | None = None, max_seconds: float | None = None,
             max_prompt_tokens: int = 1800, on_text: TextCallback | None = None,
             should_stop: StopCheck | None = None,
             sample_seed: int | None = None) -> Generation:
    import torch
    from transformers import StoppingCriteriaList, TextStreamer

    class LiveText(TextStreamer):
        """Notes the first new token and hands the text so far to `on_text`."""

        def __init__(self) -> None:
            super().__init__(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True)
            self.first_at: float | None = None
            self.so_far = ""

        def put(self, value: object) -> None:
            if not self.next_tokens_are_prompt and self.first_at is None:
                self.first_at = time.perf_counter()
            super().put(value)

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            self.so_far += text
            if on_text is not None and text:
                on_text(self.so_far)

    tokenizer, model = loaded.tokenizer, loaded.model
    input_ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                              return_tensors="pt", return_dict=True)["input_ids"]
    if input_ids.shape[1] > max_prompt_tokens:
        raise ValueError(f"Prompt has {input_ids.shape[1]} tokens; the limit is "
                         f"{max_prompt_tokens}.")
    if loaded.decoder is not None:
        return _decode(loaded, [input_ids[0].tolist()], max_new_tokens=max_new_tokens,
                       max_seconds=max_seconds, on_text=[on_text],
                       should_stop=[should_stop], sample_seed=sample_seed)[0]
    streamer, cancel = LiveText(), row_cancel([should_stop])
    sampling: dict[str, object] = {"do_sample": False}
    if settings.LLM_PROMPT_LOOKUP_TOKENS:
        # Prompt lookup decoding: a grounded draft often repeats phrases from its
        # passages, so n-grams from the prompt are proposed and checked in one forward
        # pass. Greedy output is unchanged; only the number of passes falls.
        sampling["prompt_lookup_num_tokens"] = settings.LLM_PROMPT_LOOKUP_TOKENS
    if sample_seed is not None:
        torch.manual_seed(sample_seed)
        sampling = {"do_sample": True, "temperature": 0.8, "top_p": 0.9}
    started = time.perf_counter()
    with loaded.lock, torch.inference_mode():
        output = model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new_tokens or settings.LLM_MAX_NEW_TOKENS,
            max_time=max_seconds or settings.LLM_MAX_SECONDS,
            logits_processor=reply_repetition_penalty(input_ids.shape[1]),
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([cancel]),
            **sampling,
        )
    finished = time.perf_counter()
    new_tokens = output[0, input_ids.shape[1]:]
    first = streamer.first_at or finished
    return Generation(
        text=tokenizer.decode(new_tokens, skip_special_tokens=True).strip(),
        prompt_tokens=int(input_ids.shape[1]),
        completion_tokens=int(new_tokens.shape[0]),
        first_token_ms=round((first - started) * 1000, 1),
        total_ms=round((finished - started) * 1000, 1),
        cancelled=cancel.stopped[0],
        engine=engine_name(loaded),
    )


def generate_batch(loaded: LoadedModel, conversations: list[list[dict[str, str]]], *,
                   max_new_tokens: int | None = None, max_seconds: float | None = None,
                   max_prompt_tokens: int = 1800,
                   on_text: list[TextCallback | None] | None = None,
                   should_stop: list[StopCheck | None] | None = None) -> list[Generation]:
    """Greedy drafts for several prompts in one padded batch: on a CPU the weights are
    read once per step for the whole batch, so throughput grows with the batch while
    each draft's text stays what it would be alone (up to float rounding). Each row can
    stream its text (`on_text[i]`) and be cancelled on its own (`should_stop[i]`)."""
    import torch
    from transformers import StoppingCriteriaList
    from transformers.generation.streamers import BaseStreamer

    if not conversations:
        return []
    tokenizer, model = loaded.tokenizer, loaded.model
    encoded = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=True,
                                             return_dict=True)["input_ids"]
               for m in conversations]
    longest = max(len(ids) for ids in encoded)
    if longest > max_prompt_tokens:
        raise ValueError(f"Prompt has {longest} tokens; the limit is {max_prompt_tokens}.")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
        else tokenizer.eos_token_id
    # Left padding keeps every prompt's last token in the last column, where generation
    # continues.
    input_ids = torch.tensor([[pad_id] * (longest - len(ids)) + list(ids) for ids in encoded])
    attention = torch.tensor([[0] * (longest - len(ids)) + [1] * len(ids) for ids in encoded])
    rows = len(encoded)
    callbacks = on_text or [None] * rows
    stops = should_stop or [None] * rows
    if loaded.decoder is not None:
        return _decode(loaded, encoded, max_new_tokens=max_new_tokens,
                       max_seconds=max_seconds, on_text=callbacks, should_stop=stops)

    class RowStreamer(BaseStreamer):
        """Hands each row its text so far every few steps; notes the first token."""

        def __init__(self) -> None:
            self.prompt_seen = False
            self.tokens: list[list[int]] = [[] for _ in range(rows)]
            self.first_at: float | None = None

        def put(self, value: torch.Tensor) -> None:
            if not self.prompt_seen:
                self.prompt_seen = True
                return
            self.first_at = self.first_at or time.perf_counter()
            for row, token in enumerate(value.reshape(rows, -1).tolist()):
                self.tokens[row] += token
            if len(self.tokens[0]) % 4 == 0:
                self.flush()

        def flush(self) -> None:
            for row, callback in enumerate(callbacks):
                if callback is not None:
                    callback(tokenizer.decode(self.tokens[row], skip_special_tokens=True))

        def end(self) -> None:
            self.flush()

    streamer, cancel = RowStreamer(), row_cancel(stops)
    started = time.perf_counter()
    with loaded.lock, torch.inference_mode():
        output = model.generate(
            input_ids, attention_mask=attention,
            max_new_tokens=max_new_tokens or settings.LLM_MAX_NEW_TOKENS,
            max_time=max_seconds or settings.LLM_MAX_SECONDS,
            logits_processor=reply_repetition_penalty(longest), do_sample=False,
            pad_token_id=pad_id,
            streamer=streamer if on_text else None,
            stopping_criteria=StoppingCriteriaList([cancel]),
        )
    finished = time.perf_counter()
    first = streamer.first_at or finished
    eos = {tokenizer.eos_token_id, pad_id}
    results = []
    for index, (row, ids) in enumerate(zip(output, encoded, strict=True)):
        new_tokens = [int(t) for t in row[longest:]]
        while new_tokens and new_tokens[-1] in eos:
            new_tokens.pop()
        results.append(Generation(
            text=tokenizer.decode(new_tokens, skip_special_tokens=True).strip(),
            prompt_tokens=len(ids),
            completion_tokens=len(new_tokens),
            first_token_ms=round((first - started) * 1000, 1),
            total_ms=round((finished - started) * 1000, 1),
            cancelled=cancel.stopped[index],
            engine=engine_name(loaded),
        ))
    return results


def _decode(loaded: LoadedModel, encoded: list[list[int]], *, max_new_tokens: int | None,
            max_seconds: float | None, on_text: list[TextCallback | None],
            should_stop: list[StopCheck | None],
            sample_seed: int | None = None) -> list[Generation]:
    """Generation on the int4 decoder (inference.decoder), with the same limits, live
    text and cancellation as the transformers path."""
    tokenizer, decoder = loaded.tokenizer, loaded.decoder
    assert decoder is not None
    shown = [""] * len(encoded)

    def on_step(row: int, tokens: list[int]) -> None:
        callback = on_text[row]
        if callback is None:
            return
        text = tokenizer.decode(tokens, skip_special_tokens=True)
        # A character split across tokens decodes as U+FFFD until its last byte arrives.
        if text != shown[row] and not text.endswith("\ufffd"):
            shown[row] = text
            callback(text)

    eos = {tokenizer.eos_token_id}
    configured = getattr(loaded.model.generation_config, "eos_token_id", None)
    eos |= set(configured if isinstance(configured, list) else [configured])
    eos.discard(None)
    started = time.perf_counter()
    with loaded.lock:
        result = decoder.generate(
            encoded, max_new_tokens=max_new_tokens or settings.LLM_MAX_NEW_TOKENS,
            max_seconds=max_seconds or settings.LLM_MAX_SECONDS, eos_ids=eos,
            should_stop=should_stop, on_step=on_step, sample_seed=sample_seed,
            repetition_penalty=REPETITION_PENALTY)
    finished = time.perf_counter()
    first = result.first_token_at or finished
    generations = []
    for row, ids in zip(result.rows, encoded, strict=True):
        generations.append(Generation(
            text=tokenizer.decode(row.tokens, skip_special_tokens=True).strip(),
            prompt_tokens=len(ids),
            completion_tokens=len(row.tokens),
            first_token_ms=round((first - started) * 1000, 1),
            total_ms=round((finished - started) * 1000, 1),
            cancelled=row.cancelled,
            engine=engine_name(loaded),
        ))
    return generations
