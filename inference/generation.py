"""Text generation on a locally loaded model: one interface over two engines.

Contract:
- `generate_batch(loaded, conversations, ...)` returns one `Generation` per
  conversation, generated together in one left-padded batch; `generate(loaded,
  messages, ...)` is a batch of one. Both apply the chat template, refuse a prompt over
  `max_prompt_tokens`, default the token and time limits to PSY_LLM_MAX_NEW_TOKENS and
  PSY_LLM_MAX_SECONDS, stream each row's text so far to `on_text[i]`, poll
  `should_stop[i]` to cancel that row alone, and choose tokens by a `SamplingParams`
  (default: the greedy draft).
- An `Engine` does the decoding itself, on token ids: `Float32Engine` (transformers'
  `generate` on the float32 model) or `Int4Engine` (`inference.decoder`). Which one is
  fixed when the model is loaded: `inference.loading` builds the int4 decoder or not,
  and `engine_for` follows that. The chat template, timing, decoding of the text and the
  `Generation` itself are written here once, for both.
- Loading is `inference.loading`'s job; this module never loads a model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.conf import settings

from inference.sampling import GREEDY_DRAFT, SamplingParams, penalise_repeats

if TYPE_CHECKING:
    import torch

    from inference.loading import LoadedModel

TextCallback = Callable[[str], None]
StopCheck = Callable[[], bool]
# (row, the row's new tokens so far): how an engine reports progress.
TokenCallback = Callable[[int, list[int]], None]

# The float32 engine decodes the live text every few tokens, not every token: decoding
# the whole reply again each step would cost more than the step itself in a big batch.
FLOAT32_STREAM_EVERY = 4


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

    @classmethod
    def timed(cls, text: str, *, prompt_tokens: int, completion_tokens: int,
              started: float, first_token_at: float | None, finished: float,
              cancelled: bool = False, engine: str = "") -> Generation:
        """A Generation from `time.perf_counter()` readings, in milliseconds to one
        decimal (with no first token, the first-token time is the whole time), with the
        text stripped. Every engine and backend builds its result here."""
        first = first_token_at or finished
        return cls(text=text.strip(), prompt_tokens=prompt_tokens,
                   completion_tokens=completion_tokens,
                   first_token_ms=round((first - started) * 1000, 1),
                   total_ms=round((finished - started) * 1000, 1),
                   cancelled=cancelled, engine=engine)


@dataclass(frozen=True)
class RowOutput:
    """One row of an engine's batch: the reply's tokens (no end or padding tokens) and
    whether its stop check cancelled it."""

    tokens: list[int]
    cancelled: bool = False


@dataclass(frozen=True)
class EngineOutput:
    rows: list[RowOutput]
    first_token_at: float | None


class Engine(Protocol):
    """Generates for a batch of prompts given as token ids. It holds the model's lock
    while it runs, calls `on_tokens(row, tokens_so_far)` as rows grow, and honours the
    limits, per-row stop checks and sampling it is given."""

    name: str

    def generate_batch(self, prompts: list[list[int]], *, max_new_tokens: int,
                       max_seconds: float, sampling: SamplingParams,
                       should_stop: list[StopCheck | None],
                       on_tokens: TokenCallback) -> EngineOutput: ...


def reply_repetition_penalty(prompt_length: int,
                             penalty: float = GREEDY_DRAFT.repetition_penalty) -> object:
    """A transformers logits processor applying `penalise_repeats` to the tokens after
    the first `prompt_length` (the reply's own)."""
    from transformers import LogitsProcessor, LogitsProcessorList

    class ReplyRepetitionPenalty(LogitsProcessor):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            return penalise_repeats(scores, input_ids[:, prompt_length:], penalty)

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


class Float32Engine:
    """transformers' `generate` on the float32 model: any architecture."""

    name = "float32"

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def generate_batch(self, prompts: list[list[int]], *, max_new_tokens: int,
                       max_seconds: float, sampling: SamplingParams,
                       should_stop: list[StopCheck | None],
                       on_tokens: TokenCallback) -> EngineOutput:
        import torch
        from transformers import StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        tokenizer, model = self.loaded.tokenizer, self.loaded.model
        rows, longest = len(prompts), max(len(p) for p in prompts)
        pad_id = (tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                  else tokenizer.eos_token_id)
        # Left padding keeps every prompt's last token in the last column, where
        # generation continues.
        input_ids = torch.tensor([[pad_id] * (longest - len(p)) + list(p) for p in prompts])
        attention = torch.tensor([[0] * (longest - len(p)) + [1] * len(p) for p in prompts])

        class RowStreamer(BaseStreamer):
            """Collects each row's new tokens, notes the first, reports every few."""

            def __init__(self) -> None:
                self.prompt_seen = False
                self.tokens: list[list[int]] = [[] for _ in range(rows)]
                self.first_at: float | None = None
                self.reported = 0

            def put(self, value: torch.Tensor) -> None:
                if not self.prompt_seen:  # generate hands over the prompt first
                    self.prompt_seen = True
                    return
                self.first_at = self.first_at or time.perf_counter()
                # Prompt lookup can accept several tokens in one step.
                for row, tokens in enumerate(value.reshape(rows, -1).tolist()):
                    self.tokens[row] += tokens
                if len(self.tokens[0]) - self.reported >= FLOAT32_STREAM_EVERY:
                    self.report()

            def report(self) -> None:
                self.reported = len(self.tokens[0])
                for row, tokens in enumerate(self.tokens):
                    on_tokens(row, tokens)

            def end(self) -> None:
                self.report()

        options: dict[str, object] = {"do_sample": False}
        if not sampling.greedy:
            options = {"do_sample": True, "temperature": sampling.temperature,
                       "top_p": sampling.top_p}
        elif rows == 1 and settings.LLM_PROMPT_LOOKUP_TOKENS:
            # Prompt lookup decoding: a grounded draft often repeats phrases from its
            # passages, so n-grams from the prompt are proposed and checked in one forward
            # pass. Greedy output is unchanged; only the number of passes falls.
            # transformers allows it for a batch of one only.
            options["prompt_lookup_num_tokens"] = settings.LLM_PROMPT_LOOKUP_TOKENS
        streamer, cancel = RowStreamer(), row_cancel(should_stop)
        with self.loaded.lock, torch.inference_mode():
            if not sampling.greedy and sampling.seed is not None:
                torch.manual_seed(sampling.seed)
            output = model.generate(
                input_ids, attention_mask=attention, max_new_tokens=max_new_tokens,
                max_time=max_seconds,
                logits_processor=reply_repetition_penalty(longest,
                                                          sampling.repetition_penalty),
                pad_token_id=pad_id, streamer=streamer,
                stopping_criteria=StoppingCriteriaList([cancel]), **options)
        # A row that ended early is filled with end or padding tokens up to the longest.
        ends = {tokenizer.eos_token_id, pad_id}
        results = []
        for index, row in enumerate(output):
            tokens = [int(t) for t in row[longest:]]
            while tokens and tokens[-1] in ends:
                tokens.pop()
            results.append(RowOutput(tokens, cancel.stopped[index]))
        return EngineOutput(results, streamer.first_at)


class Int4Engine:
    """`inference.decoder.LlamaDecoder`: 4-bit weights, Llama architecture only."""

    name = "int4"

    def __init__(self, loaded: LoadedModel) -> None:
        if loaded.decoder is None:
            raise ValueError(f"{loaded.name} was loaded without the int4 decoder.")
        self.loaded = loaded
        self.decoder = loaded.decoder

    def generate_batch(self, prompts: list[list[int]], *, max_new_tokens: int,
                       max_seconds: float, sampling: SamplingParams,
                       should_stop: list[StopCheck | None],
                       on_tokens: TokenCallback) -> EngineOutput:
        tokenizer = self.loaded.tokenizer
        # The model may end a reply on any of its configured end tokens, not only the
        # tokenizer's (SmolLM2's chat turns end with <|im_end|>).
        eos = {tokenizer.eos_token_id}
        configured = getattr(self.loaded.model.generation_config, "eos_token_id", None)
        eos |= set(configured if isinstance(configured, list) else [configured])
        eos.discard(None)
        with self.loaded.lock:
            result = self.decoder.generate(
                prompts, max_new_tokens=max_new_tokens, max_seconds=max_seconds,
                eos_ids=eos, should_stop=should_stop, on_step=on_tokens, sampling=sampling)
        return EngineOutput([RowOutput(r.tokens, r.cancelled) for r in result.rows],
                            result.first_token_at)


def engine_for(loaded: LoadedModel) -> Engine:
    """The engine chosen when `loaded` was loaded: int4 where its decoder was built."""
    return Int4Engine(loaded) if loaded.decoder is not None else Float32Engine(loaded)


def engine_name(loaded: LoadedModel) -> str:
    """int4: inference.decoder; float32: transformers' generate."""
    return engine_for(loaded).name


def generation_settings(loaded: LoadedModel) -> str:
    """Recorded with evaluations: a change to how text is generated invalidates cached
    outputs."""
    return (f"greedy, repetition penalty {GREEDY_DRAFT.repetition_penalty} on the "
            f"reply's own tokens, {engine_name(loaded)} engine")


class _LiveText:
    """Turns an engine's (row, tokens so far) into each row's text so far for its
    callback, sent only when it changed."""

    def __init__(self, tokenizer: object, callbacks: list[TextCallback | None]) -> None:
        self.tokenizer = tokenizer
        self.callbacks = callbacks
        self.shown = [""] * len(callbacks)

    def __call__(self, row: int, tokens: list[int]) -> None:
        callback = self.callbacks[row]
        if callback is None:
            return
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        # A character split across tokens decodes as U+FFFD until its last byte arrives.
        if text != self.shown[row] and not text.endswith("\ufffd"):
            self.shown[row] = text
            callback(text)


def generate_batch(loaded: LoadedModel, conversations: list[list[dict[str, str]]], *,
                   max_new_tokens: int | None = None, max_seconds: float | None = None,
                   max_prompt_tokens: int = 1800, sampling: SamplingParams = GREEDY_DRAFT,
                   on_text: list[TextCallback | None] | None = None,
                   should_stop: list[StopCheck | None] | None = None,
                   engine: Engine | None = None) -> list[Generation]:
    """Drafts for several prompts in one padded batch: on a CPU the weights are read once
    per step for the whole batch, so throughput grows with the batch while each draft's
    text stays what it would be alone (up to float rounding). Each row can stream its
    text (`on_text[i]`) and be cancelled on its own (`should_stop[i]`). `engine` is the
    model's own (`engine_for`) unless given."""
    if not conversations:
        return []
    tokenizer = loaded.tokenizer
    engine = engine or engine_for(loaded)
    encoded = [list(tokenizer.apply_chat_template(m, add_generation_prompt=True,
                                                  tokenize=True,
                                                  return_dict=True)["input_ids"])
               for m in conversations]
    longest = max(len(ids) for ids in encoded)
    if longest > max_prompt_tokens:
        raise ValueError(f"Prompt has {longest} tokens; the limit is {max_prompt_tokens}.")
    rows = len(encoded)
    live = _LiveText(tokenizer, list(on_text or [None] * rows))
    started = time.perf_counter()
    output = engine.generate_batch(
        encoded, max_new_tokens=max_new_tokens or settings.LLM_MAX_NEW_TOKENS,
        max_seconds=max_seconds or settings.LLM_MAX_SECONDS, sampling=sampling,
        should_stop=list(should_stop or [None] * rows), on_tokens=live)
    finished = time.perf_counter()
    return [Generation.timed(tokenizer.decode(row.tokens, skip_special_tokens=True),
                             prompt_tokens=len(ids), completion_tokens=len(row.tokens),
                             started=started, first_token_at=output.first_token_at,
                             finished=finished, cancelled=row.cancelled, engine=engine.name)
            for row, ids in zip(output.rows, encoded, strict=True)]


def generate(loaded: LoadedModel, messages: list[dict[str, str]], *,
             max_new_tokens: int | None = None, max_seconds: float | None = None,
             max_prompt_tokens: int = 1800, sampling: SamplingParams = GREEDY_DRAFT,
             on_text: TextCallback | None = None, should_stop: StopCheck | None = None,
             engine: Engine | None = None) -> Generation:
    """One draft: a batch of one (see generate_batch)."""
    return generate_batch(loaded, [messages], max_new_tokens=max_new_tokens,
                          max_seconds=max_seconds, max_prompt_tokens=max_prompt_tokens,
                          sampling=sampling, on_text=[on_text], should_stop=[should_stop],
                          engine=engine)[0]
