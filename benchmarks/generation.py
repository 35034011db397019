"""Drafting speed, measured in one run on one machine, as ratios against plain float32
`model.generate` on the same model and prompts:

- single stream: time to first token and tokens per second of the product path
  (inference.generation.generate, a batch of one: streaming and cancel checks, on the
  int4 engine of inference.decoder unless PSY_LLM_ENGINE=float32);
- aggregate tokens per second with queued drafts batched together
  (inference.generation.generate_batch, as the worker runs them);
- llama.cpp on the packaged GGUF as the reference, where llama-cpp-python is installed.

The prompts are real drafting prompts (system prompt, three retrieved passages, the
question) from the held-out set. "Same words" compares each product output with the
baseline's greedy output. The int4 engine rounds weights and activations, so its words
part from the float32 baseline's after a while; whether drafts stay as good is measured by
`manage.py evaluate` (README, "Drafting speed").

    PSY_HTTPS=0 .venv/bin/python benchmarks/generation.py [--tokens 128] [--batch 8 16] [--short]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psyconsole.settings")
os.environ.setdefault("PSY_HTTPS", "0")


def prompts(count: int, short: bool = False) -> list[list[dict[str, str]]]:
    """Drafting prompts from the held-out set or, with `short`, each one's question
    alone (about 30 tokens, closer to the setting of the issue's reference figures)."""
    lines = (ROOT / "fixtures" / "eval" / "sft_heldout.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines[:count]]
    if short:
        return [[{"role": "user", "content": r["question"]}] for r in records]
    return [r["messages"][:-1] for r in records]


def plain_generate(loaded, messages, tokens: int) -> tuple[float, float, str]:
    """The baseline: float32 model.generate, greedy, no streaming."""
    import torch

    from inference.generation import reply_repetition_penalty

    tokenizer, model = loaded.tokenizer, loaded.model
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)["input_ids"]
    with torch.inference_mode():
        started = time.perf_counter()
        model.generate(ids, max_new_tokens=1, do_sample=False)
        ttft = time.perf_counter() - started
        started = time.perf_counter()
        out = model.generate(ids, max_new_tokens=tokens, do_sample=False,
                             logits_processor=reply_repetition_penalty(ids.shape[1]))
        elapsed = time.perf_counter() - started
    new = out[0, ids.shape[1]:]
    return ttft, len(new) / elapsed, tokenizer.decode(new, skip_special_tokens=True).strip()


def agreement(reference: str, other: str) -> float:
    """Share of the reference's words that the other output repeats in place."""
    a, b = reference.split(), other.split()
    return sum(x == y for x, y in zip(a, b, strict=False)) / max(len(a), 1)


def llama_cpp(conversations, tokens: int) -> tuple[float, float] | None:
    """Mean time to first token and tokens per second through llama.cpp, streaming."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    from inference.loading import PACKAGED_GGUF, packaged_gguf_dir

    llm = Llama(str(packaged_gguf_dir() / PACKAGED_GGUF), n_threads=2, verbose=False,
                n_ctx=4096)
    llm.create_chat_completion(conversations[0], max_tokens=8, temperature=0)  # warm up
    first_tokens, rates = [], []
    for messages in conversations:
        llm.reset()  # no reuse of the previous prompt's cache
        started = time.perf_counter()
        first, made = None, 0
        for chunk in llm.create_chat_completion(messages, max_tokens=tokens, temperature=0,
                                                stream=True):
            if chunk["choices"][0]["delta"].get("content"):
                first = first or time.perf_counter()
                made += 1
        elapsed = time.perf_counter() - started
        first_tokens.append((first or time.perf_counter()) - started)
        rates.append(made / elapsed)
    return statistics.mean(first_tokens), statistics.mean(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--short", action="store_true",
                        help="the question alone, without system prompt and passages")
    args = parser.parse_args()
    import django

    django.setup()
    import torch

    from inference.generation import engine_name, generate, generate_batch
    from inference.loading import get_model
    from inference.versions import active_spec

    loaded = get_model(active_spec())
    conversations = prompts(max(args.prompts, *args.batch), short=args.short)
    singles = conversations[:args.prompts]
    plain_generate(loaded, singles[0], 8)  # warm up

    base = [plain_generate(loaded, m, args.tokens) for m in singles]
    base_ttft = statistics.mean(b[0] for b in base)
    base_rate = statistics.mean(b[1] for b in base)
    ours = [generate(loaded, m, max_new_tokens=args.tokens, max_seconds=600,
                     on_text=lambda text: None) for m in singles]
    our_ttft = statistics.mean(r.first_token_ms / 1000 for r in ours)
    our_rate = statistics.mean(r.completion_tokens / (r.total_ms / 1000) for r in ours)
    our_same = statistics.mean(agreement(b[2], r.text) for b, r in zip(base, ours, strict=True))
    engine = engine_name(loaded)
    rows = [("plain float32 model.generate, one draft (baseline)", base_ttft, base_rate, 1.0),
            (f"product path ({engine} engine), one draft, streaming", our_ttft, our_rate,
             our_same)]
    for size in args.batch:
        batch = conversations[:size]
        started = time.perf_counter()
        results = generate_batch(loaded, batch, max_new_tokens=args.tokens, max_seconds=600,
                                 max_prompt_tokens=8192)
        elapsed = time.perf_counter() - started
        rate = sum(r.completion_tokens for r in results) / elapsed
        same = statistics.mean(agreement(b[2], r.text)
                               for b, r in zip(base, results, strict=False))
        rows.append((f"product path ({engine} engine), {size} queued drafts batched "
                     "(aggregate)",
                     statistics.mean(r.first_token_ms for r in results) / 1000, rate, same))
    reference = llama_cpp(singles, args.tokens)

    kind = "short (question only)" if args.short else "grounded"
    print(f"# Generation benchmark: {loaded.name}, up to {args.tokens} new tokens, "
          f"{torch.get_num_threads()} threads, {args.prompts} {kind} prompts")
    print("| setup | time to first token | tokens/s | vs float32 baseline | "
          "vs llama.cpp | same words as baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, ttft, rate, same in rows:
        against_llama = f"{rate / reference[1]:.2f}x" if reference else "-"
        print(f"| {name} | {ttft * 1000:.0f} ms | {rate:.1f} | {rate / base_rate:.2f}x | "
              f"{against_llama} | {same:.0%} |")
    if reference:
        print(f"| llama.cpp, same GGUF, 2 threads, one draft, streaming (reference) | "
              f"{reference[0] * 1000:.0f} ms | {reference[1]:.1f} | "
              f"{reference[1] / base_rate:.2f}x | 1.00x | - |")
    else:
        print("(llama-cpp-python is not installed: no llama.cpp reference in this run)")


if __name__ == "__main__":
    main()
