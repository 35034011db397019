"""The FAISS index of chunk embeddings, with a manifest, atomic rebuilds and hot reload.

Layout under INDEX_DIR:
  current -> a symlink to the live build directory (swapped atomically)
  builds/<timestamp>/{index.faiss, manifest.json}
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from django.utils import timezone
from tqdm import tqdm

from retrieval.embeddings import embed, embedding_model_path
from retrieval.models import Chunk


class IndexMissing(RuntimeError):
    pass


def _current(index_dir: Path) -> Path:
    return index_dir / "current"


def build_index(index_dir: Path, *, progress: bool = True) -> dict[str, object]:
    """Embeds every chunk and swaps the new index in; readers never see a partial one."""
    chunks = list(Chunk.objects.order_by("id").values_list("id", "heading", "text"))
    if not chunks:
        raise IndexMissing("There are no chunks to index; load the corpus first.")
    ids = np.array([c[0] for c in chunks], dtype="int64")
    texts = [f"{heading}\n{text}" if heading else text for _, heading, text in chunks]
    batches = [texts[i:i + 64] for i in range(0, len(texts), 64)]
    vectors = np.concatenate([
        embed(batch) for batch in tqdm(batches, desc="Embedding chunks", disable=not progress)
    ])
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    index.add_with_ids(vectors, ids)

    build_dir = index_dir / "builds" / f"{time.time_ns()}"
    build_dir.mkdir(parents=True)
    faiss.write_index(index, str(build_dir / "index.faiss"))
    checksum = hashlib.sha256((build_dir / "index.faiss").read_bytes()).hexdigest()
    manifest = {
        "embedding_model": embedding_model_path(),
        "dimension": int(vectors.shape[1]),
        "count": int(index.ntotal),
        "index_type": "flat-ip",
        "checksum": checksum,
        "built_at": timezone.now().isoformat(),
    }
    (build_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))

    link = _current(index_dir)
    tmp_link = index_dir / f".current.{os.getpid()}"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(build_dir.relative_to(index_dir))
    os.replace(tmp_link, link)
    return manifest


@dataclass
class LoadedIndex:
    index: faiss.Index
    manifest: dict[str, object]
    build_dir: Path


class IndexHolder:
    """Loads the live index once and reloads it when a rebuild swaps in a new one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: LoadedIndex | None = None

    def get(self, index_dir: Path) -> LoadedIndex:
        link = _current(index_dir)
        try:
            target = link.resolve(strict=True)
        except FileNotFoundError as exc:
            raise IndexMissing(f"No index at {index_dir}; run `manage.py build_index`.") from exc
        with self._lock:
            if self._loaded is None or self._loaded.build_dir != target:
                self._loaded = LoadedIndex(
                    index=faiss.read_index(str(target / "index.faiss")),
                    manifest=json.loads((target / "manifest.json").read_text()),
                    build_dir=target,
                )
            return self._loaded


holder = IndexHolder()
