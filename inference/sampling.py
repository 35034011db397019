"""How the next token is chosen: one `SamplingParams` for every way of generating.

Contract:
- `SamplingParams` holds temperature, top-p, repetition penalty and seed. The local
  engines (`inference.generation`: float32 transformers `generate` and the int4
  `inference.decoder`) and the OpenAI-compatible backend (`inference.backends`) all take
  one; nothing else writes these numbers.
- `SamplingParams()` is plain greedy decoding with no penalty; `for_draft(seed)` is what
  the drafting path uses (greedy for a draft, seeded sampling for an alternative).
- `penalise_repeats` is the repetition-penalty formula, written once for both engines.

This module needs no Django and no model; torch is imported only when a penalty is
applied, so the OpenAI backend can use it without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# Applied to the reply's own tokens only (see penalise_repeats): enough to stop a small
# model looping on a phrase, while it may still quote its passages and cite [1], [2].
REPETITION_PENALTY = 1.1
# An alternative candidate: sampled, so it differs from the greedy draft, but from the
# likely tokens only, so it stays on topic.
CANDIDATE_TEMPERATURE = 0.8
CANDIDATE_TOP_P = 0.9


@dataclass(frozen=True)
class SamplingParams:
    """How tokens are chosen. A temperature of 0 is greedy (top-p and seed unused); above
    0, nucleus sampling from the smallest set of tokens whose probability reaches
    `top_p`, reproducible for a given `seed`. `repetition_penalty` (1.0: none) divides
    the scores of tokens the reply has already written."""

    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    @classmethod
    def for_draft(cls, seed: int | None = None) -> SamplingParams:
        """The drafting path's choice: greedy for the draft (`seed` None), seeded
        sampling for an alternative candidate (seed 1, 2, ...), with the reply's
        repetition penalty either way."""
        if seed is None:
            return cls(repetition_penalty=REPETITION_PENALTY)
        return cls(temperature=CANDIDATE_TEMPERATURE, top_p=CANDIDATE_TOP_P,
                   repetition_penalty=REPETITION_PENALTY, seed=seed)


#: The greedy draft: what a worker's first draft, a batch and an evaluation use.
GREEDY_DRAFT = SamplingParams.for_draft()


def penalise_repeats(scores: torch.Tensor, reply: torch.Tensor, penalty: float
                     ) -> torch.Tensor:
    """transformers' repetition penalty (a positive score divided by `penalty`, a
    negative one multiplied), applied to the tokens in `reply` (batch, steps) only. The
    stock processor also penalises every prompt token, which stops a draft from quoting
    its passages or writing the [1], [2] citations it was given."""
    import torch

    if reply.shape[1] == 0:
        return scores
    seen = torch.gather(scores, 1, reply)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return scores.scatter(1, reply, seen)
