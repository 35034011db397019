"""The FAISS index of chunk embeddings: exact or approximate, with a manifest, atomic
swaps, incremental updates and hot reload.

Layout under INDEX_DIR:
  current -> builds/<id>        a symlink, swapped atomically with os.replace
  builds/<id>/index.faiss       FAISS ids are the database ids of the chunks
  builds/<id>/manifest.json     embedding model, dimension, count, checksum, build time

Readers resolve `current` once per query; a rebuild or update writes a whole new build
directory and only then swaps the link, so no reader ever sees a partial index.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from django.conf import settings
from django.utils import timezone
from filelock import FileLock
from tqdm import tqdm

from retrieval.embeddings import embed, embedding_model_id
from retrieval.models import Chunk

KEEP_BUILDS = 3


class IndexMissing(RuntimeError):
    pass


def chunk_text_for_embedding(title: str, heading: str, text: str) -> str:
    # The article title and heading tell the embedder what a passage is about, which a
    # passage in the middle of an article often does not say itself.
    context = " - ".join(part for part in (title, heading) if part)
    return f"{context}\n{text}" if context else text


def choose_index_type(count: int) -> str:
    kind = settings.INDEX_TYPE
    if kind == "auto":
        return "hnsw" if count >= settings.INDEX_APPROX_THRESHOLD else "flat"
    if kind not in ("flat", "hnsw"):
        raise ValueError(f"PSY_INDEX_TYPE must be auto, flat or hnsw, not {kind!r}")
    return kind


def new_index(kind: str, dimension: int) -> faiss.Index:
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dimension, settings.INDEX_HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = settings.INDEX_HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = settings.INDEX_HNSW_EF_SEARCH
    else:
        inner = faiss.IndexFlatIP(dimension)
    return faiss.IndexIDMap2(inner)


def _embed_chunks(chunk_ids: Iterable[int], progress: bool) -> tuple[np.ndarray, np.ndarray]:
    rows = list(Chunk.objects.filter(pk__in=list(chunk_ids)).order_by("id")
                .values_list("id", "article__title", "heading", "text"))
    ids = np.array([r[0] for r in rows], dtype="int64")
    texts = [chunk_text_for_embedding(title, h, t) for _, title, h, t in rows]
    batches = [texts[i:i + 64] for i in range(0, len(texts), 64)]
    vectors = [embed(b) for b in tqdm(batches, desc="Embedding chunks", disable=not progress)]
    return ids, (np.concatenate(vectors) if vectors else np.zeros((0, 384), dtype="float32"))


def _publish(index_dir: Path, index: faiss.Index, manifest: dict[str, Any]) -> dict[str, Any]:
    builds = index_dir / "builds"
    build_dir = builds / f"{time.time_ns()}"
    build_dir.mkdir(parents=True)
    faiss.write_index(index, str(build_dir / "index.faiss"))
    manifest = {
        **manifest,
        "embedding_model": embedding_model_id(),
        "count": int(index.ntotal) - len(manifest.get("deleted_ids", [])),
        "checksum": hashlib.sha256((build_dir / "index.faiss").read_bytes()).hexdigest(),
        "built_at": timezone.now().isoformat(),
    }
    (build_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    tmp_link = index_dir / f".current.{os.getpid()}.{threading.get_ident()}"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(build_dir.relative_to(index_dir))
    os.replace(tmp_link, index_dir / "current")
    for old in sorted(builds.iterdir(), key=lambda p: p.name)[:-KEEP_BUILDS]:
        shutil.rmtree(old, ignore_errors=True)  # readers already hold their index in memory
    return manifest


def build_index(index_dir: Path, *, kind: str | None = None,
                progress: bool = True) -> dict[str, Any]:
    """Embeds every chunk into a fresh index and swaps it in."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(index_dir / "write.lock")):
        all_ids = list(Chunk.objects.values_list("id", flat=True))
        if not all_ids:
            raise IndexMissing("There are no chunks to index; load or crawl the corpus first.")
        started = time.perf_counter()
        ids, vectors = _embed_chunks(all_ids, progress)
        kind = kind or choose_index_type(len(ids))
        index = new_index(kind, vectors.shape[1])
        index.add_with_ids(vectors, ids)
        return _publish(index_dir, index, {
            "index_type": kind, "dimension": int(vectors.shape[1]), "deleted_ids": [],
            "build_seconds": round(time.perf_counter() - started, 3),
        })


def update_index(index_dir: Path, *, add: Iterable[int] = (), remove: Iterable[int] = (),
                 progress: bool = False) -> dict[str, Any]:
    """Adds and removes chunks without re-embedding the rest, then swaps the result in.

    A flat index deletes in place; an HNSW graph cannot, so its deleted ids are kept in
    the manifest and filtered out of results until the next full rebuild."""
    add, remove = list(add), list(remove)
    with FileLock(str(index_dir / "write.lock")):
        current = _resolve(index_dir)
        manifest = json.loads((current / "manifest.json").read_text())
        index = faiss.read_index(str(current / "index.faiss"))
        deleted = set(manifest.get("deleted_ids", []))
        if remove:
            if manifest["index_type"] == "flat":
                index.remove_ids(np.array(remove, dtype="int64"))
            else:
                deleted.update(remove)
        if add:
            ids, vectors = _embed_chunks(add, progress)
            if len(ids):
                index.add_with_ids(vectors, ids)
        manifest["deleted_ids"] = sorted(deleted)
        return _publish(index_dir, index, manifest)


def _resolve(index_dir: Path) -> Path:
    try:
        return (index_dir / "current").resolve(strict=True)
    except FileNotFoundError as exc:
        raise IndexMissing(f"No index at {index_dir}; run `manage.py build_index`.") from exc


@dataclass
class LoadedIndex:
    index: faiss.Index
    manifest: dict[str, Any]
    build_dir: Path
    deleted_ids: frozenset[int]


class IndexHolder:
    """Loads the live index once per process and reloads it when a new build (with its
    new manifest) is swapped in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: LoadedIndex | None = None

    def get(self, index_dir: Path) -> LoadedIndex:
        target = _resolve(index_dir)
        with self._lock:
            if self._loaded is None or self._loaded.build_dir != target:
                faiss.omp_set_num_threads(settings.INDEX_SEARCH_THREADS)
                manifest = json.loads((target / "manifest.json").read_text())
                index = faiss.read_index(str(target / "index.faiss"))
                if manifest["index_type"] == "hnsw":
                    faiss.downcast_index(index.index).hnsw.efSearch = (
                        settings.INDEX_HNSW_EF_SEARCH)
                self._loaded = LoadedIndex(index, manifest, target,
                                           frozenset(manifest.get("deleted_ids", [])))
            return self._loaded


holder = IndexHolder()
