"""Toxicity, hate and harassment in text: `detect_toxicity(text)`, `toxicity_score(text)`.

A small offline classifier shipped in the package (`model.npz`, under 1 MB): hashed character
2-5-grams and word 1-2-grams (`proctor.guards.ngrams`) and two logistic-regression heads, TOXIC
(offensive, insulting or hateful) and HATE (hateful toward a group), trained by
bench/guards/train_toxicity.py on Davidson et al.'s hate/offensive tweets, the ToxiGen
demonstration statements, benign assistant queries (CLINC150, self-instruct) and half of
HateCheck's templates; the other half of the templates, and held-out parts of the other
sources, are what bench/guards/toxicity.py reports on (docs/BENCHMARKS.md). Group names
("women", "Muslims", "immigrants"...) are replaced by one token before hashing, so that naming
a group is not in itself a sign of hate. Inference is numpy only: a few array operations per
text, no Python loop over characters.

A text longer than `WINDOW` characters (about two of the tweets the model learnt from) is
scored by windows (`WINDOW` wide, every `STRIDE` characters) and the worst window counts, so
that one insult in a long answer is not diluted by the rest.

Known limits (figures in docs/BENCHMARKS.md): English only; insults and threats without
profanity ("you are an idiot", "I will find you") are often missed, the training data having
few of them; quoted hate in counter-speech, reclaimed slurs and positive or negated statements
about a group ("I don't hate X", "X are wonderful") are often flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from proctor.guards.base import Detection
from proctor.guards.ngrams import BITS, clean, features, mask_identities

MODEL_PATH = Path(__file__).with_name("model.npz")
WINDOW = 160
STRIDE = 80

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Model:
    toxic: F32  # (2**BITS,) weights of the TOXIC head
    hate: F32  # (2**BITS,) weights of the HATE head
    bias: tuple[float, float]
    thresholds: tuple[float, float]  # tuned on a validation split by the training script


def load_model(path: Path = MODEL_PATH) -> Model:
    with np.load(path) as data:
        weights = data["weights"].astype(np.float32)
        if weights.shape != (2, 2**BITS):
            raise ValueError(f"{path}: weights of shape {weights.shape}, expected {(2, 2**BITS)}")
        bias, thresholds = data["bias"].astype(float), data["thresholds"].astype(float)
    return Model(
        np.ascontiguousarray(weights[0]),
        np.ascontiguousarray(weights[1]),
        (bias[0], bias[1]),
        (thresholds[0], thresholds[1]),
    )


def _logits(
    model: Model, indices: npt.NDArray[np.int64], positions: npt.NDArray[np.int64], length: int
) -> tuple[float, float]:
    """The two heads' logits for the text, or their largest over its windows when it is long
    (the whole text counts as a set of n-grams with value 1/sqrt(count) each)."""
    toxic, hate = model.toxic[indices], model.hate[indices]
    if length <= WINDOW:
        scale = 1.0 / np.sqrt(len(indices))
        return float(toxic.sum()) * scale + model.bias[0], float(hate.sum()) * scale + model.bias[1]
    # Sums per block of STRIDE characters; a window is WINDOW // STRIDE consecutive blocks.
    blocks = positions // STRIDE
    size = int(blocks.max()) + 1
    counts = np.bincount(blocks, minlength=size).astype(np.float64)
    per_block = np.stack((np.bincount(blocks, toxic, size), np.bincount(blocks, hate, size)))
    span = WINDOW // STRIDE
    if size > span:
        kernel = np.ones(span)
        counts = np.convolve(counts, kernel, "valid")
        per_block = np.stack([np.convolve(row, kernel, "valid") for row in per_block])
    keep = counts > 0
    scaled = per_block[:, keep] / np.sqrt(counts[keep])
    return float(scaled[0].max()) + model.bias[0], float(scaled[1].max()) + model.bias[1]


_MODEL = load_model()
DEFAULT_THRESHOLD = _MODEL.thresholds[0]
"""Score from which `detect_toxicity` reports, tuned for F1 on a validation split."""
HATE_THRESHOLD = _MODEL.thresholds[1]
"""P(hate) from which a detection is typed HATE rather than TOXIC."""


def head_probabilities(text: str) -> tuple[float, float]:
    """P(toxic), P(hate) for `text` (its worst window when it is long)."""
    cleaned = mask_identities(clean(text))
    indices, positions = features(cleaned)
    if len(indices) == 0:
        return 0.0, 0.0
    toxic, hate = _logits(_MODEL, indices, positions, len(cleaned) + 2)
    return _sigmoid(toxic), _sigmoid(hate)


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


def toxicity_score(text: str) -> float:
    """How toxic `text` looks, in [0, 1]: the larger of the two heads' probabilities."""
    return max(head_probabilities(text))


def detect_toxicity(text: str, threshold: float | None = None) -> list[Detection]:
    """One detection over the whole text when its score reaches `threshold` (default
    `DEFAULT_THRESHOLD`); typed HATE when P(hate) reaches `HATE_THRESHOLD`, TOXIC otherwise."""
    if not text or text.isspace():
        return []
    toxic, hate = head_probabilities(text)
    score = max(toxic, hate)
    if score < (DEFAULT_THRESHOLD if threshold is None else threshold):
        return []
    kind = "HATE" if hate >= HATE_THRESHOLD else "TOXIC"
    return [Detection("toxicity", kind, 0, len(text), round(score, 4), "toxicity-classifier")]
