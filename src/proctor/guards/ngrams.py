"""Hashed n-gram features in numpy for small linear text classifiers (the toxicity model),
shared by the runtime and the training script (bench/guards/train_toxicity.py), so that both
see exactly the same features.

A text is cleaned (lower case, @handles, URLs and HTML entities folded, whitespace collapsed)
and turned into feature indices in [0, 2**BITS): character 2- to 5-grams (with the spaces
around words, so short words count as whole words) and word unigrams and bigrams. Hashing is
vectorised: with the prefix sums P[k] = sum(c[i] * B**i, i < k) of the characters' code points
(uint64 arithmetic wraps, i.e. works modulo 2**64), the hash of any span [a, b) is
(P[b] - P[a]) * B**-a, where B**-a is the inverse power (B is odd, so invertible modulo 2**64).
Every n-gram and every word then costs a few array operations, not a Python-level loop.

Each occurrence is returned with the position it starts at, so that the runtime can score
windows of a long text without recomputing anything.
"""

from __future__ import annotations

import html
import re

import numpy as np
import numpy.typing as npt

from proctor.guards.banned import compile_phrases

BITS = 18
CHAR_NGRAMS = (2, 3, 4, 5)
# Texts are hashed in chunks of at most this many characters (the power tables' size).
MAX_CHARS = 8192

_BASE = np.uint64(0x100000001B3)  # odd: it has an inverse modulo 2**64
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing spreads the bits into the top ones
_SHIFT = np.uint64(64 - BITS)
_SALT_WORD = np.uint64(0x5BD1E9955BD1E995)
_SALT_BIGRAM = np.uint64(0xC2B2AE3D27D4EB4F)

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def _powers() -> tuple[U64, U64]:
    inverse = pow(int(_BASE), -1, 2**64)
    powers = np.empty(MAX_CHARS + 1, dtype=np.uint64)
    inverses = np.empty(MAX_CHARS + 1, dtype=np.uint64)
    p, q = 1, 1
    for i in range(MAX_CHARS + 1):
        powers[i], inverses[i] = p, q
        p, q = p * int(_BASE) % 2**64, q * inverse % 2**64
    return powers, inverses


_POW, _INV = _powers()

_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_RETWEET = re.compile(r"\brt\b:?")


# Words naming the groups that hate speech targets. A classifier trained on hate data learns
# that naming a group is itself a sign of hate ("I love Muslims" flagged); replaced by one
# token, the group says nothing by itself and the words around it decide.
IDENTITY_TOKEN = "identitygroup"
_GROUPS = (
    "women",
    "woman",
    "female",
    "females",
    "girls",
    "trans",
    "transgender",
    "trans people",
    "trans women",
    "trans men",
    "gay",
    "gays",
    "gay people",
    "lesbian",
    "lesbians",
    "bisexual",
    "queer",
    "homosexual",
    "homosexuals",
    "lgbt",
    "lgbtq",
    "black",
    "blacks",
    "black people",
    "white people",
    "african",
    "africans",
    "african americans",
    "asian",
    "asians",
    "chinese",
    "japanese",
    "korean",
    "koreans",
    "indian",
    "indians",
    "arab",
    "arabs",
    "middle eastern",
    "mexican",
    "mexicans",
    "latino",
    "latinos",
    "latina",
    "latinas",
    "latinx",
    "hispanic",
    "hispanics",
    "native americans",
    "indigenous people",
    "muslim",
    "muslims",
    "islamic",
    "jew",
    "jews",
    "jewish",
    "jewish people",
    "christian",
    "christians",
    "hindu",
    "hindus",
    "immigrant",
    "immigrants",
    "migrant",
    "migrants",
    "refugee",
    "refugees",
    "foreigner",
    "foreigners",
    "disabled",
    "disabled people",
    "the disabled",
    "people with disabilities",
)
_IDENTITIES = compile_phrases(_GROUPS)


def mask_identities(cleaned: str) -> str:
    """`cleaned` (the output of `clean`) with group names replaced by `IDENTITY_TOKEN`."""
    return cleaned if _IDENTITIES is None else _IDENTITIES.sub(IDENTITY_TOKEN, cleaned)


def clean(text: str) -> str:
    """Lower case, no @handles / URLs / retweet marks, entities decoded, single spaces."""
    text = text.lower()
    # Each substitution only when its trigger is there: most texts need none of them.
    if "&" in text:
        text = html.unescape(text)
    if "@" in text:
        text = _MENTION.sub(" @user ", text)
    if "http" in text or "www." in text:
        text = _URL.sub(" url ", text)
    if "rt" in text:
        text = _RETWEET.sub(" ", text)
    return " ".join(text.split())


def _codes(text: str) -> U64:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)


def _word_mask(codes: U64) -> npt.NDArray[np.bool_]:
    """Letters and digits (ASCII ones exactly; every non-ASCII code point above Latin-1
    punctuation is counted as a letter, which is close enough for hashing)."""
    mask: npt.NDArray[np.bool_] = (
        ((codes >= 97) & (codes <= 122))
        | ((codes >= 48) & (codes <= 57))
        | (codes == 39)  # apostrophe: "don't" is one word
        | ((codes >= 0xC0) & ~((codes >= 0x2000) & (codes <= 0x206F)))
    )
    return mask


_POSITIONS = np.arange(MAX_CHARS + 1, dtype=np.int64)


def _chunk_features(text: str) -> tuple[I64, I64]:
    padded = f" {text} "
    codes = _codes(padded)
    n = len(codes)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(codes * _POW[:n], out=prefix[1:])
    # Every array operation costs about a microsecond whatever its length, so hashes of all
    # kinds are gathered first and mixed into buckets once.
    hashes: list[U64] = []
    positions: list[I64] = []
    for size in CHAR_NGRAMS:
        if n < size:
            break
        count = n - size + 1
        hashes.append((prefix[size:] - prefix[:count]) * _INV[:count])
        positions.append(_POSITIONS[:count])
    mask = _word_mask(codes)
    edges = np.flatnonzero(mask[1:] != mask[:-1])  # the padding makes both ends spaces
    if len(edges) >= 2:
        starts, ends = edges[0::2] + 1, edges[1::2] + 1
        words = (prefix[ends] - prefix[starts]) * _INV[starts]
        hashes.append(words ^ _SALT_WORD)
        positions.append(starts)
        if len(words) > 1:
            hashes.append((words[:-1] * _BASE + words[1:]) ^ _SALT_BIGRAM)
            positions.append(starts[:-1])
    if not hashes:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    buckets = ((np.concatenate(hashes) * _MIX) >> _SHIFT).astype(np.int64)
    return buckets, np.concatenate(positions)


def features(cleaned: str) -> tuple[I64, I64]:
    """(feature index, start position in `cleaned`) of every n-gram occurrence, in no order."""
    if len(cleaned) + 2 <= MAX_CHARS:
        return _chunk_features(cleaned)
    indices: list[I64] = []
    positions: list[I64] = []
    step = MAX_CHARS - 2
    for offset in range(0, len(cleaned), step):
        chunk_indices, chunk_positions = _chunk_features(cleaned[offset : offset + step])
        indices.append(chunk_indices)
        positions.append(chunk_positions + offset)
    return np.concatenate(indices), np.concatenate(positions)
