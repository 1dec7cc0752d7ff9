"""The statistical layer: hashed character and word n-grams, two logistic regressions.

Features are computed here, with numpy only, both for inference and by the training script
(bench/guards/train_injection.py), so the two cannot drift apart:

- character 3-, 4- and 5-grams of the folded text (padded with a space at both ends),
  hashed with a polynomial hash in uint64 arithmetic (vectorised, wraps by design);
- word unigrams and bigrams (`\\w+` tokens, CRC-32 of each word, bigrams combined in uint64);

all into one space of `2**BITS` buckets. Features are binary (present or not), divided by the
square root of the number of distinct buckets of that family (L2 normalisation), so that
repeating a text changes nothing, and the score is a sum of gathered weights: a fixed number
of numpy calls whatever the length. Texts longer than `WINDOW` characters are scored by
windows of `WINDOW` characters every `WINDOW // 2` and the highest window wins, so an
instruction planted in a long document is not diluted by it.

The model file (`model.npz`, written by the training script) holds float16 weights for the
attack head (attack vs benign) and the type head (jailbreak vs injection), their biases,
the stacking coefficients that turn the classifier's logit plus the heuristics' weight into
one calibrated probability, and the measured precision of strong heuristic evidence alone
(the classifier saw few short direct injections, so it must not veto a strong rule).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

BITS = 18
WINDOW = 2048
MODEL_PATH = Path(__file__).with_name("model.npz")

_SHIFT = np.uint64(64 - BITS)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # multiplicative hashing: top bits are well mixed
_PRIME = np.uint64(1_000_003)
_SEEDS = {n: np.uint64(0x51ED27 * n + 1) for n in (3, 4, 5)}
# seed_n * P**n, mod 2**64 (the seed's share of an n-gram's hash)
_OFFSETS = {n: np.uint64(int(seed) * int(_PRIME) ** n % (1 << 64)) for n, seed in _SEEDS.items()}
_WORD_SEED = np.uint64(0xC0FFEE)
_BIGRAM_SEED = np.uint64(0xB16B00B5)
WORD = re.compile(r"\w+")

Indices = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Families:
    """Hashed bucket of every n-gram occurrence, per family (one entry per occurrence)."""

    chars: Indices
    words: Indices


class _WordCodes(dict[str, int]):
    """CRC-32 of each word, remembered: a dictionary hit costs a third of encoding and
    hashing the word again, and documents are scored twice (whole text, then segments).
    Bounded: past MAX_WORDS distinct words a new one is hashed but not kept."""

    MAX_WORDS = 50_000

    def __missing__(self, word: str) -> int:
        code = zlib.crc32(word.encode("utf-8", "surrogatepass"))
        if len(self) < self.MAX_WORDS:
            self[word] = code
        return code


_CODES = _WordCodes()


def word_codes(words: list[str]) -> npt.NDArray[np.uint64]:
    """The CRC-32 of each word (what word n-grams are hashed from)."""
    return np.fromiter(map(_CODES.__getitem__, words), np.uint64, len(words))


def bucket(h: npt.NDArray[np.uint64]) -> Indices:
    return ((h * _GOLDEN) >> _SHIFT).astype(np.int64)


def _char_buckets(codes: npt.NDArray[np.uint64]) -> Iterator[tuple[int, Indices]]:
    """(n, bucket of the n-gram starting at each position) for n = 3, 4, 5."""
    # The n-gram at i hashes to seed_n * P**n + sum(codes[i + k] * P**(n - 1 - k)): the sum
    # for n + 1 is the one for n times P plus the next code, so each order extends the last.
    if len(codes) < 3:
        return
    h = codes[:-2] * _PRIME + codes[1:-1]
    h = h * _PRIME + codes[2:]
    for n, offset in _OFFSETS.items():
        if len(codes) < n:
            return
        if n > 3:
            h = h[:-1] * _PRIME + codes[n - 1 :]
        yield n, bucket(h + offset)


def char_grams(
    codes: npt.NDArray[np.uint64], owner: Indices
) -> Iterator[tuple[Indices, npt.NDArray[np.bool_], Indices]]:
    """For several texts laid end to end (`owner[i]`: the text of code `i`), per n: the text
    of each n-gram's start, whether it ends in the same text, and its bucket."""
    for n, buckets in _char_buckets(codes):
        start = owner[: len(buckets)]
        yield start, start == owner[n - 1 :], buckets


def word_grams(w: npt.NDArray[np.uint64]) -> tuple[Indices, Indices]:
    """Buckets of word unigrams and bigrams from the CRC-32 of each word."""
    return bucket(w ^ _WORD_SEED), bucket(w[:-1] * _PRIME + w[1:] + _BIGRAM_SEED)


def families(folded: str, words: list[str] | None = None) -> Families:
    """The hashed n-grams of an already folded text (see normalize.fold); `words`: its
    `\\w+` words when the caller has them already."""
    padded = f" {folded} "
    codes = np.frombuffer(padded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(
        np.uint64
    )
    parts = [buckets for _, buckets in _char_buckets(codes)]
    chars = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if words is None:
        words = WORD.findall(folded)
    if words:
        w = word_codes(words)
        word_idx = np.concatenate(word_grams(w))
    else:
        word_idx = np.zeros(0, dtype=np.int64)
    return Families(chars, word_idx)


def distinct(idx: Indices) -> Indices:
    """The distinct values (sorted), cheaper than np.unique on a few thousand integers."""
    ordered = np.sort(idx)
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def windows(folded: str) -> list[str]:
    """The text itself, or overlapping windows of a long one."""
    if len(folded) <= WINDOW:
        return [folded]
    step = WINDOW // 2
    return [folded[i : i + WINDOW] for i in range(0, len(folded) - step, step)]


@dataclass(frozen=True, slots=True)
class Model:
    attack: npt.NDArray[np.float32]
    attack_bias: float
    jailbreak: npt.NDArray[np.float32]  # type head: > 0 jailbreak, < 0 injection
    jailbreak_bias: float
    # final probability = sigmoid(scale * logit + heuristic * min(hits, cap) + offset), or
    # at least `strong_p` when the heuristics' evidence reaches `strong_at`
    scale: float
    heuristic: float
    cap: float
    offset: float
    strong_at: float
    strong_p: float
    threshold: float
    # Document mode (document.py): the sentence head, and the calibration of its evidence,
    # probability = sigmoid(a * top + b * (top - rest) + c * shared + offset); absent in
    # an older file.
    sentence: npt.NDArray[np.float32] | None = None
    sentence_bias: float = 0.0
    document: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def logits(self, fam: Families) -> tuple[float, float]:
        """(attack logit, jailbreak-vs-injection logit) for one text or window."""
        attack, jailbreak = self.attack_bias, self.jailbreak_bias
        for idx in (fam.chars, fam.words):
            if len(idx):
                present = distinct(idx)
                norm = 1.0 / float(np.sqrt(len(present)))
                attack += float(self.attack[present].sum(dtype=np.float32)) * norm
                jailbreak += float(self.jailbreak[present].sum(dtype=np.float32)) * norm
        return attack, jailbreak

    def score(self, folded: str, words: list[str] | None = None) -> tuple[float, float]:
        """Max attack logit over the windows of `folded`, with that window's type logit."""
        if len(folded) <= WINDOW:
            return self.logits(families(folded, words))
        best = (-np.inf, 0.0)
        for window in windows(folded):
            best = max(best, self.logits(families(window)))
        return best


@cache
def load(path: Path = MODEL_PATH) -> Model:
    """The shipped model, loaded once (file written by bench/guards/train_injection.py)."""
    with np.load(path) as data:
        coef = data["stack"].astype(np.float64)
        return Model(
            attack=data["attack"].astype(np.float32),
            attack_bias=float(data["attack_bias"]),
            jailbreak=data["jailbreak"].astype(np.float32),
            jailbreak_bias=float(data["jailbreak_bias"]),
            scale=float(coef[0]),
            heuristic=float(coef[1]),
            cap=float(coef[2]),
            offset=float(coef[3]),
            # An older file without the floor (importing the package loads the model, so the
            # training script must be able to import it while it replaces an older file).
            strong_at=float(coef[4]) if len(coef) > 5 else float("inf"),
            strong_p=float(coef[5]) if len(coef) > 5 else 0.0,
            threshold=float(data["threshold"]),
            **_document_mode(data),
        )


def _document_mode(data: Mapping[str, npt.NDArray[np.generic]]) -> dict[str, Any]:
    """The sentence head and its calibration, or nothing from a file without them (or with
    another layout: the training script imports the package while it replaces the file)."""
    if "sentence" not in data or len(data["document"]) != 4:
        return {}
    a, b, c, offset = (float(v) for v in data["document"])
    return {
        "sentence": data["sentence"].astype(np.float32),
        "sentence_bias": float(data["sentence_bias"]),
        "document": (a, b, c, offset),
    }
