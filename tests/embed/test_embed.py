"""Both embedders: shape, unit length, and paraphrases closer than unrelated texts."""

from __future__ import annotations

import numpy as np
import pytest

from proctor.embed import Embedder, HashingEmbedder, default_embedder


@pytest.mark.parametrize("make", [default_embedder, HashingEmbedder])
def test_shape_norm_and_similarity(make: type[Embedder]) -> None:
    embedder = make()
    texts = [
        "how do I reset my password",
        "how can I reset my password please",
        "what is the weather in paris tomorrow",
    ]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, embedder.dims)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similar, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert similar > unrelated + 0.2
    assert embedder.embed([]).shape[0] == 0


def test_default_is_shared_and_offline() -> None:
    assert default_embedder() is default_embedder()
    print("default embedder:", default_embedder().name)
