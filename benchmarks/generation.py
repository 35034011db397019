"""Drafting speed: time to first token and tokens per second, single stream and with
several drafts in flight, against plain float32 `model.generate` measured in the same
run on the same machine (and llama.cpp on the same GGUF, where llama-cpp-python is
installed).

    PSY_HTTPS=0 .venv/bin/python benchmarks/generation.py [--tokens 128] [--batch 4]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psyconsole.settings")
os.environ.setdefault("PSY_HTTPS", "0")

QUESTIONS = [
    "I've been having panic attacks before exams and I don't know what to do.",
    "I can't sleep, I lie awake until 4am every night worrying about work.",
    "My mum died in March and I still cry every evening. Is that normal?",
    "I moved to a new city and I feel so lonely. How do people make friends?",
]


def passages_for(question: str) -> list:
    from retrieval.chunking import chunk_markdown
    from retrieval.markdown_files import parse_article
    from retrieval.service import Passage

    article = parse_article(ROOT / "fixtures" / "articles" / "anxiety-and-panic.md")
    chunks = chunk_markdown(article.body, count_tokens=lambda t: len(t.split()) * 4 // 3)
    return [Passage(i, 0.5, "anxiety-and-panic", article.meta["title"], "/corpus/a/",
                    c.heading, c.text, c.start, c.end) for i, c in enumerate(chunks[:3])]


def plain_generate(model, tokenizer, messages, tokens: int) -> tuple[float, float]:
    """The baseline: float32 model.generate, greedy, no streaming. Returns (ttft, tok/s)."""
    import torch

    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)["input_ids"]
    with torch.inference_mode():
        started = time.perf_counter()
        model.generate(ids, max_new_tokens=1, do_sample=False)
        ttft = time.perf_counter() - started
        started = time.perf_counter()
        out = model.generate(ids, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
        elapsed = time.perf_counter() - started
    return ttft, (out.shape[1] - ids.shape[1]) / elapsed


def ours(loaded, messages, tokens: int) -> tuple[float, float, str]:
    from inference.generation import generate

    result = generate(loaded, messages, max_new_tokens=tokens, max_seconds=600)
    return (result.first_token_ms / 1000, result.completion_tokens / (result.total_ms / 1000),
            result.text)


def agreement(reference: str, other: str) -> float:
    """Share of the reference's first 32 words that the other output repeats in place."""
    a, b = reference.split()[:32], other.split()[:32]
    return sum(x == y for x, y in zip(a, b, strict=False)) / max(len(a), 1)


def batched(model, tokenizer, batch: list, tokens: int) -> float:
    """Several drafts in one forward pass: aggregate tokens per second."""
    import torch

    tokenizer.padding_side = "left"
    texts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
             for m in batch]
    enc = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        started = time.perf_counter()
        out = model.generate(**enc, max_new_tokens=tokens, min_new_tokens=tokens,
                             do_sample=False, pad_token_id=tokenizer.eos_token_id)
        elapsed = time.perf_counter() - started
    return len(batch) * (out.shape[1] - enc["input_ids"].shape[1]) / elapsed


def llama_cpp(messages, tokens: int) -> float | None:
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    from inference.loading import PACKAGED_GGUF, packaged_gguf_dir

    llm = Llama(str(packaged_gguf_dir() / PACKAGED_GGUF), n_threads=2, verbose=False,
                n_ctx=2048)
    started = time.perf_counter()
    out = llm.create_chat_completion(messages, max_tokens=tokens, temperature=0)
    return out["usage"]["completion_tokens"] / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    import django

    django.setup()
    import torch

    from inference.loading import get_model
    from inference.prompts import build_messages

    loaded = get_model()
    model, tokenizer = loaded.model, loaded.tokenizer
    prompts = [build_messages(q, passages_for(q)) for q in QUESTIONS]
    messages = prompts[0]
    plain_generate(model, tokenizer, messages, 8)  # warm up

    base_ttft, base_rate = plain_generate(model, tokenizer, messages, args.tokens)
    our_ttft, our_rate, our_text = ours(loaded, messages, args.tokens)
    rows = [("plain float32 model.generate (baseline)", base_ttft, base_rate, 1.0),
            ("product path, float32 (streaming)", our_ttft, our_rate, 1.0)]

    # int8 dynamic quantisation is fast, but it must also still say the same thing.
    quantised = copy.copy(loaded)
    quantised.model = torch.ao.quantization.quantize_dynamic(
        copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
    q_ttft, q_rate, q_text = ours(quantised, messages, args.tokens)
    rows.append(("int8 dynamic quantisation (not used: see agreement)", q_ttft, q_rate,
                 agreement(our_text, q_text)))

    batch = (prompts * args.batch)[:args.batch]
    rows.append((f"float32, {args.batch} drafts batched (aggregate)", None,
                 batched(model, tokenizer, batch, args.tokens), None))
    rows.append((f"int8, {args.batch} drafts batched (aggregate, not used)", None,
                 batched(quantised.model, tokenizer, batch, args.tokens), None))
    reference = llama_cpp(messages, args.tokens)
    if reference:
        rows.append(("llama.cpp, same GGUF, 2 threads (reference)", None, reference, None))

    print(f"# Generation benchmark: SmolLM2-135M-Instruct, {args.tokens} new tokens, "
          f"{torch.get_num_threads()} threads")
    print("| setup | time to first token | tokens/s | vs baseline | same words as float32 |")
    print("|---|---:|---:|---:|---:|")
    for name, ttft, rate, same in rows:
        first = f"{ttft * 1000:.0f} ms" if ttft is not None else "-"
        words = f"{same:.0%}" if same is not None else "-"
        print(f"| {name} | {first} | {rate:.1f} | {rate / base_rate:.2f}x | {words} |")
    if not reference:
        print("\nllama-cpp-python is not installed, so there is no llama.cpp row.")


if __name__ == "__main__":
    main()
