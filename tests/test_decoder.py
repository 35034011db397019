"""The int4 decoder (inference.decoder) against transformers on the tiny model with the
real tokenizer and architecture. Its weights are first rounded onto the 4-bit grid, as
the packaged Q4_1 model's are, so the two may differ only by bfloat16 rounding."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from inference.decoder import GROUP_SIZE, LlamaDecoder, supports
from inference.sampling import SamplingParams

# Greedy with no repetition penalty, so that transformers' plain generate is the reference.
PLAIN = SamplingParams(repetition_penalty=1.0)

PROMPTS = [[1, 504, 3459, 314, 253, 1345, 30], [1, 2683, 314, 3301, 30, 198, 2683, 314, 5024]]


def _snap_to_4bit_grid(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and module.weight.shape[1] % GROUP_SIZE == 0:
                rows, columns = module.weight.shape
                groups = module.weight.reshape(rows, columns // GROUP_SIZE, GROUP_SIZE)
                low = groups.amin(-1, keepdim=True)
                scale = ((groups.amax(-1, keepdim=True) - low) / 15).clamp(min=1e-8)
                snapped = torch.round((groups - low) / scale) * scale + low
                module.weight.copy_(snapped.reshape(rows, columns))


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    _snap_to_4bit_grid(loaded)
    return loaded.eval()


def _transformers_greedy(model: torch.nn.Module, prompt: list[int], tokens: int) -> list[int]:
    with torch.inference_mode():
        out = model.generate(torch.tensor([prompt]), max_new_tokens=tokens,
                             min_new_tokens=tokens, do_sample=False, pad_token_id=0)
    return out[0, len(prompt):].tolist()


def _greedy(decoder: LlamaDecoder, prompts: list[list[int]], tokens: int, **kw: object
            ) -> list[list[int]]:
    kw.setdefault("sampling", PLAIN)
    result = decoder.generate(prompts, max_new_tokens=tokens, eos_ids=set(), **kw)
    return [row.tokens for row in result.rows]


def test_it_writes_what_transformers_writes(model):
    decoder = LlamaDecoder(model)
    for prompt in PROMPTS:
        assert _greedy(decoder, [prompt], 12)[0] == _transformers_greedy(model, prompt, 12)


def test_a_row_writes_the_same_alone_and_in_a_padded_batch(model):
    decoder = LlamaDecoder(model)
    together = _greedy(decoder, PROMPTS, 10)
    assert together == [_greedy(decoder, [p], 10)[0] for p in PROMPTS]


def test_it_applies_a_lora_adapter_without_merging_it(model):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(3)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "up_proj",
                                                          "down_proj"], init_lora_weights=False)
    import copy

    adapted = get_peft_model(copy.deepcopy(model), config)
    decoder = LlamaDecoder(adapted)
    merged = adapted.merge_and_unload().eval()
    plain = _greedy(LlamaDecoder(model), [PROMPTS[0]], 12)[0]
    with_adapter = _greedy(decoder, [PROMPTS[0]], 12)[0]
    assert with_adapter == _transformers_greedy(merged, PROMPTS[0], 12)
    assert with_adapter != plain


def test_each_row_stops_on_its_own(model):
    decoder = LlamaDecoder(model)
    steps = {"count": 0}

    def second_row_stops() -> bool:
        steps["count"] += 1
        return steps["count"] >= 3

    result = decoder.generate(PROMPTS, max_new_tokens=8, eos_ids=set(),
                              should_stop=[None, second_row_stops])
    assert [len(r.tokens) for r in result.rows] == [8, 3]
    assert [r.cancelled for r in result.rows] == [False, True]


def test_a_row_ends_at_its_end_token(model):
    decoder = LlamaDecoder(model)
    free = _greedy(decoder, [PROMPTS[0]], 8)[0]
    ended = decoder.generate([PROMPTS[0]], max_new_tokens=8, eos_ids={free[4]},
                             sampling=PLAIN).rows[0]
    assert ended.tokens == free[:free.index(free[4])]


def test_it_stops_at_the_time_limit(model):
    decoder = LlamaDecoder(model)
    result = decoder.generate([PROMPTS[0]], max_new_tokens=500, eos_ids=set(),
                              max_seconds=0.0)
    assert result.timed_out and len(result.rows[0].tokens) == 1


def test_seeded_sampling_repeats_for_a_seed_and_varies_across_seeds(model):
    decoder = LlamaDecoder(model)
    runs = [_greedy(decoder, [PROMPTS[0]], 12,
                    sampling=replace(SamplingParams.for_draft(seed), repetition_penalty=1.0))[0]
            for seed in (1, 1, 2)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_it_refuses_a_model_that_is_not_llama():
    from transformers import GPT2Config, GPT2LMHeadModel

    other = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=100))
    assert not supports(other)
    with pytest.raises(ValueError, match="Llama-architecture"):
        LlamaDecoder(other)
