"""The fallback embedder: feature-hashed words and character trigrams, L2-normalised.

No model: texts sharing words and spellings are close, paraphrases with other words are not.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import numpy.typing as npt

_TOKEN = re.compile(r"\w+")


class HashingEmbedder:
    name = "hashing"

    def __init__(self, dims: int = 512) -> None:
        self.dims = dims

    def _one(self, text: str, out: npt.NDArray[np.float32]) -> None:
        lowered = text.lower()
        padded = f"  {lowered}  "
        features = _TOKEN.findall(lowered)
        features += [padded[i : i + 3] for i in range(len(padded) - 2)]
        for feature in features:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "big") % self.dims
            out[index] += 1.0 if digest[4] & 1 else -1.0

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        vectors = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            self._one(text, vectors[row])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit
