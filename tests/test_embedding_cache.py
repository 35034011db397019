"""Embeddings are kept per (model, text) so re-indexing unchanged chunks is cheap; a kept
vector must be exactly what the model gives, and the store must stay bounded."""

from __future__ import annotations

from typing import Any

import numpy as np

from retrieval import embeddings


def test_a_kept_vector_is_what_the_model_gives_and_order_is_kept() -> None:
    texts = ["I can't sleep before exams", "my dog died last week", "I can't sleep before exams"]
    first = embeddings.embed(texts)
    again = embeddings.embed(list(reversed(texts)))
    fresh = embeddings.get_embedder().encode(texts, normalize_embeddings=True)
    assert first.shape == (3, 384)
    np.testing.assert_allclose(first, fresh, atol=1e-5)
    np.testing.assert_array_equal(again, first[::-1])


def test_the_store_drops_the_oldest_beyond_its_size(monkeypatch: Any) -> None:
    monkeypatch.setattr(embeddings, "EMBEDDING_CACHE_SIZE", 2)
    embeddings.embed(["one", "two", "three"])
    model_id = embeddings.embedding_model_id()
    kept = [text for (mid, text) in embeddings._vectors if mid == model_id]
    assert len(embeddings._vectors) <= 2
    assert "one" not in kept and "three" in kept
