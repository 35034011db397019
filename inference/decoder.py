"""A lean decoder for Llama-architecture models on the CPU, the drafting engine's fast path.

Decoding one token reads every weight once, so on a CPU its speed is set by memory
bandwidth, not arithmetic: float32 SmolLM2-135M moves about 540 MB per token. Here the
weights are held as 4-bit integers in groups of 32 with a scale and an offset per group
(the layout of the packaged Q4_1 GGUF the model comes from) and multiplied by PyTorch's
int4 CPU kernel; with the bfloat16 output layer (below) that is about 125 MB per token.
The prompt is read in one pass in bfloat16, which this kind of CPU multiplies several
times faster than float32.

A LoRA adapter is not merged into the 4-bit weights, where rounding would blur it: it is
kept beside them as two small float32 matrices per layer and added to each output.

The tied output layer (token scores) is kept in bfloat16: in 4 bits it changed which
token won far more often (benchmarks/generation.py, "same words").

Everything a draft needs from `generate` is here: a left-padded batch where each row
stops on its own, greedy decoding or seeded sampling, the repetition penalty on the
reply's own tokens, time and token limits, per-row cancellation and live text. How tokens
are chosen comes in as `inference.sampling.SamplingParams`, shared with the float32
engine; this module needs nothing else from the project (no Django, no transformers),
and works on token ids: `inference.generation` tokenises, times and decodes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from inference.sampling import SamplingParams, penalise_repeats

GROUP_SIZE = 32

StepCallback = Callable[[int, list[int]], None]


def int4_kernel_available() -> bool:
    return hasattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu")


def supports(model: Any) -> bool:
    """Whether `model` (a transformers model, optionally with a peft adapter) can run here."""
    config = getattr(_base_llama(model), "config", None)
    if config is None or getattr(config, "model_type", "") != "llama":
        return False
    if getattr(config, "mlp_bias", False) or getattr(config, "attention_bias", False):
        return False
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        return False
    hidden, inner = config.hidden_size, config.intermediate_size
    return int4_kernel_available() and hidden % GROUP_SIZE == 0 and inner % GROUP_SIZE == 0


class Int4Linear:
    """y = x W^T with W in 4-bit groups (bf16 activations), plus an optional low-rank
    adapter term in float32; `prefill` multiplies by a bfloat16 copy instead."""

    def __init__(self, weight: torch.Tensor, lora: tuple[torch.Tensor, torch.Tensor] | None):
        weight = weight.detach().float()
        rows, columns = weight.shape
        groups = weight.reshape(rows, columns // GROUP_SIZE, GROUP_SIZE)
        low = groups.amin(-1, keepdim=True)
        scale = ((groups.amax(-1, keepdim=True) - low) / 15).clamp(min=1e-8)
        codes = torch.round((groups - low) / scale).clamp(0, 15).reshape(rows, columns)
        # The kernel computes (code - 8) * scale + zero, so zero is the offset moved by
        # eight steps.
        zero = low + 8 * scale
        self.scales_and_zeros = torch.stack(
            [scale.squeeze(-1).t(), zero.squeeze(-1).t()], dim=-1).contiguous().bfloat16()
        self.packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(
            codes.to(torch.int32).contiguous(), 2)
        self.bf16 = weight.bfloat16().contiguous()
        self.lora = lora

    def __call__(self, x: torch.Tensor, prefill: bool) -> torch.Tensor:
        if prefill:
            y = F.linear(x.bfloat16(), self.bf16).float()
        else:
            flat = x.reshape(-1, x.shape[-1]).bfloat16()
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(
                flat, self.packed, GROUP_SIZE, self.scales_and_zeros
            ).float().reshape(*x.shape[:-1], -1)
        if self.lora is not None:
            down, up = self.lora
            y = y + F.linear(F.linear(x, down), up)
        return y


def _parts(module: Any) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
    """The base weight of a linear layer and, for a peft LoRA layer, its (A, B * scaling)."""
    base = getattr(module, "base_layer", None)
    if base is None:
        return module.weight, None
    adapters = list(module.lora_A.keys()) if hasattr(module, "lora_A") else []
    if not adapters or getattr(module, "merged", False):
        return base.weight, None
    name = adapters[0]
    down = module.lora_A[name].weight.detach().float().clone()
    up = (module.lora_B[name].weight.detach().float() * module.scaling[name]).clone()
    return base.weight, (down, up)


def _fused(modules: Sequence[Any]) -> Int4Linear:
    """One Int4Linear for several layers that read the same input (q, k, v; gate, up),
    with their adapters stacked: A's on top of each other, B's block-diagonal."""
    parts = [_parts(m) for m in modules]
    weight = torch.cat([w for w, _ in parts])
    if all(lora is None for _, lora in parts):
        return Int4Linear(weight, None)
    downs, ups = [], []
    for w, lora in parts:
        if lora is None:
            columns = w.shape[1]
            lora = (torch.zeros(1, columns), torch.zeros(w.shape[0], 1))
        downs.append(lora[0])
        ups.append(lora[1])
    return Int4Linear(weight, (torch.cat(downs), torch.block_diag(*ups)))


@dataclass
class _Layer:
    attention_norm: torch.Tensor
    mlp_norm: torch.Tensor
    qkv: Int4Linear
    output: Int4Linear
    gate_up: Int4Linear
    down: Int4Linear


@dataclass
class RowResult:
    tokens: list[int] = field(default_factory=list)
    cancelled: bool = False


@dataclass
class BatchResult:
    rows: list[RowResult]
    first_token_at: float | None
    timed_out: bool


class LlamaDecoder:
    def __init__(self, model: Any):
        if not supports(model):
            raise ValueError("LlamaDecoder needs a Llama-architecture model and PyTorch's "
                             "int4 CPU kernel.")
        inner = _base_llama(model)
        config = inner.config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.eps = config.rms_norm_eps
        self.layers = []
        for layer in inner.model.layers:
            attention, mlp = layer.self_attn, layer.mlp
            self.layers.append(_Layer(
                attention_norm=layer.input_layernorm.weight.detach().float().clone(),
                mlp_norm=layer.post_attention_layernorm.weight.detach().float().clone(),
                qkv=_fused([attention.q_proj, attention.k_proj, attention.v_proj]),
                output=_fused([attention.o_proj]),
                gate_up=_fused([mlp.gate_proj, mlp.up_proj]),
                down=_fused([mlp.down_proj]),
            ))
        self.final_norm = inner.model.norm.weight.detach().float().clone()
        self.embedding = inner.model.embed_tokens.weight.detach().float().clone()
        head_weight, head_lora = _parts(inner.lm_head)
        if head_lora is not None:
            raise ValueError("An adapter on the output layer is not supported.")
        self.head = head_weight.detach().bfloat16().contiguous()
        theta = (config.rope_parameters or {}).get("rope_theta", 10000.0)
        self.inverse_frequencies = 1.0 / (
            theta ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim))

    def _rotation(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        angles = positions[..., None].float() * self.inverse_frequencies
        angles = torch.cat([angles, angles], dim=-1)[:, None]  # (batch, 1, time, dim)
        return angles.cos(), angles.sin()

    def _rotate(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = self.head_dim // 2
        return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin

    def _forward(self, tokens: torch.Tensor, positions: torch.Tensor, start: int,
                 cache: list[tuple[torch.Tensor, torch.Tensor]], mask: torch.Tensor,
                 prefill: bool) -> torch.Tensor:
        """Scores for the next token after each row's last position; writes the new keys
        and values into `cache` at columns start..start+time."""
        batch, steps = tokens.shape
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        x = self.embedding[tokens]
        cos, sin = self._rotation(positions)
        end = start + steps
        for layer, (keys, values) in zip(self.layers, cache, strict=True):
            h = F.rms_norm(x, (x.shape[-1],), layer.attention_norm, self.eps)
            q, k, v = layer.qkv(h, prefill).split(
                [heads * dim, kv_heads * dim, kv_heads * dim], dim=-1)
            q = self._rotate(q.view(batch, steps, heads, dim).transpose(1, 2), cos, sin)
            k = self._rotate(k.view(batch, steps, kv_heads, dim).transpose(1, 2), cos, sin)
            keys[:, :, start:end] = k
            values[:, :, start:end] = v.view(batch, steps, kv_heads, dim).transpose(1, 2)
            attended = F.scaled_dot_product_attention(
                q, keys[:, :, :end], values[:, :, :end], attn_mask=mask, enable_gqa=True)
            x = x + layer.output(attended.transpose(1, 2).reshape(batch, steps, -1), prefill)
            h = F.rms_norm(x, (x.shape[-1],), layer.mlp_norm, self.eps)
            gate, up = layer.gate_up(h, prefill).chunk(2, dim=-1)
            x = x + layer.down(F.silu(gate) * up, prefill)
        last = F.rms_norm(x[:, -1], (x.shape[-1],), self.final_norm, self.eps)
        return F.linear(last.bfloat16(), self.head).float()

    @torch.inference_mode()
    def generate(self, prompts: Sequence[Sequence[int]], *, max_new_tokens: int,
                 eos_ids: set[int], max_seconds: float | None = None,
                 should_stop: Sequence[Callable[[], bool] | None] | None = None,
                 on_step: StepCallback | None = None,
                 sampling: SamplingParams | None = None) -> BatchResult:
        """Generates for each prompt until it writes an end token, is cancelled
        (`should_stop[i]`), or the batch reaches `max_new_tokens` or `max_seconds`.
        `on_step(row, tokens_so_far)` is called for each row that gained a token.
        `sampling` defaults to plain greedy decoding with no repetition penalty."""
        sampling = sampling or SamplingParams()
        started = time.perf_counter()
        rows = len(prompts)
        stops = list(should_stop) if should_stop else [None] * rows
        longest = max(len(p) for p in prompts)
        width = longest + max_new_tokens
        real = torch.zeros(rows, width, dtype=torch.bool)
        tokens = torch.zeros(rows, longest, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            # Left padding keeps every prompt's last token in the same column.
            tokens[row, longest - len(prompt):] = torch.tensor(list(prompt))
            real[row, longest - len(prompt):longest] = True
        positions = (real[:, :longest].long().cumsum(-1) - 1).clamp(min=0)
        shape = (rows, self.kv_heads, width, self.head_dim)
        cache = [(torch.zeros(shape), torch.zeros(shape)) for _ in self.layers]
        causal = torch.ones(longest, longest, dtype=torch.bool).tril()
        # Padding may only see itself, so no query row is fully masked (which gives NaN).
        mask = (causal & real[:, None, :longest]) | torch.eye(longest, dtype=torch.bool)
        scores = self._forward(tokens, positions, 0, cache, mask[:, None], prefill=True)
        generator = None
        if not sampling.greedy:
            generator = torch.Generator()
            if sampling.seed is None:
                generator.seed()
            else:
                generator.manual_seed(sampling.seed)
        results = [RowResult() for _ in range(rows)]
        done = torch.zeros(rows, dtype=torch.bool)
        reply = torch.zeros(rows, 0, dtype=torch.long)
        next_positions = positions[:, -1:] + 1
        first_token_at, timed_out = None, False
        for step in range(max_new_tokens):
            scores = penalise_repeats(scores, reply, sampling.repetition_penalty)
            chosen = _choose(scores, generator, sampling)
            first_token_at = first_token_at or time.perf_counter()
            for row in range(rows):
                if done[row]:
                    continue
                token = int(chosen[row])
                if token in eos_ids:
                    done[row] = True
                    continue
                results[row].tokens.append(token)
                if on_step is not None:
                    on_step(row, results[row].tokens)
                stop = stops[row]
                if stop is not None and stop():
                    results[row].cancelled = True
                    done[row] = True
            if bool(done.all()) or step == max_new_tokens - 1:
                break
            if max_seconds is not None and time.perf_counter() - started > max_seconds:
                timed_out = True
                break
            reply = torch.cat([reply, chosen[:, None]], dim=1)
            column = longest + step
            real[:, column] = True
            scores = self._forward(chosen[:, None], next_positions, column, cache,
                                   real[:, None, None, :column + 1], prefill=False)
            next_positions = next_positions + 1
        return BatchResult(results, first_token_at, timed_out)


def _choose(scores: torch.Tensor, generator: torch.Generator | None,
            sampling: SamplingParams) -> torch.Tensor:
    if generator is None:
        return scores.argmax(-1)
    probabilities = torch.softmax(scores / sampling.temperature, dim=-1)
    ordered, order = probabilities.sort(dim=-1, descending=True)
    # Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p.
    outside = ordered.cumsum(-1) - ordered > sampling.top_p
    ordered = ordered.masked_fill(outside, 0.0)
    picked = torch.multinomial(ordered, 1, generator=generator)
    return order.gather(-1, picked).squeeze(-1)


def _base_llama(model: Any) -> Any:
    """The LlamaForCausalLM inside a peft wrapper, or the model itself."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model
