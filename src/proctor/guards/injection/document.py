"""Document mode: find the sentence that does not belong in a document.

An indirect injection is an instruction planted in content the model reads on the user's
behalf (a retrieved page, an e-mail, a tool's output). Read as a whole, a long e-mail with
"Explain how a refrigerator works." in the middle is still an e-mail; read
sentence by sentence, that one sentence is a task addressed to the assistant, which no
invoice or newsletter contains. So a document is cut into segments (lines, `|`-separated
fields, sentences) and each segment is scored by a second hashed-n-gram logistic model, the
sentence head, trained on planted instructions and user requests (positives) against the
sentences of e-mails and other prose (negatives).

The segments are scored together, vectorised: every segment is padded as the classifier
pads a text (`" ^ segment "`, the `^` marking the sentence start, where an imperative
verb sits), n-grams that straddle two segments are dropped, and the per-segment sums come
out of one `np.bincount`. A segment's features are exactly those `families("^ " + segment,
words(segment))` gives (its words between two pseudo-words, for its opening word and its
closing punctuation), which is what the training script
(bench/guards/train_injection_document.py) fits on.

The document's evidence is the highest segment logit, how far it stands above the mean of
the others (an out-of-place sentence stands out; a how-to page of imperatives does not),
and how much of that segment's wording the rest of the document shares (a task planted in
an invoice shares little of it). A one-segment text has no document around it: document
mode leaves it to the whole-text score (injection/__init__.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from proctor.guards.injection import classifier

# Line breaks, field separators (BIPIA's "SUBJECT: ...|CONTENT: ...", tables), and sentence
# ends, made line breaks first (`str.replace` is a third of the cost of a look-behind).
_SPLIT = re.compile(r" ?[\n|] ?")
_ENDS_OF_SENTENCES = tuple(
    f"{mark}{close} " for close in ("'", '"', ")", "") for mark in ".?!"
)  # a closing quote or bracket first: "...how are you?' the amount" is two sentences
MAX_SEGMENT = 400  # a run without punctuation is cut, so one segment cannot hide in prose
MAX_SEGMENTS = 512  # beyond this a document is scored on its first segments only
# Pseudo-words around each segment's words, so that word bigrams see which word opens it
# (an imperative verb, a question word) and how it ends (a question mark): a task addressed
# to the assistant is told by both more than by its topic.
_START = "\x02start"
_ENDS = {"?": "\x02ask", "!": "\x02bang", ".": "\x02stop", ":": "\x02colon"}
_OPEN = "\x02open"
_THREE_LETTERS = re.compile(r"[^\W\d_](?:[\W\d_]*[^\W\d_]){2}")


@dataclass(frozen=True, slots=True)
class Evidence:
    """The document's sentence-level evidence, in logit units of the sentence head."""

    top: float  # the highest segment logit
    rest: float  # the mean logit of the other segments (= top for a one-segment text)
    # The share of that segment's character n-grams found in the rest of the document: a
    # sentence spliced from a related document shares its words, a planted task does not
    # (1.0 for a one-segment text, which has no document around it).
    shared: float
    segment: str  # the folded segment that scored `top`
    count: int


def segments(folded: str) -> list[str]:
    """The segments worth scoring (a few letters each) of an already folded text
    (`normalize.fold`: the caller has it from the whole-text score)."""
    out: list[str] = []
    for stop in _ENDS_OF_SENTENCES:  # folded text: single spaces, none next to a newline
        folded = folded.replace(stop, stop[:-1] + "\n")
    for part in _SPLIT.split(folded):
        if not _THREE_LETTERS.search(part):
            continue
        start = 0  # a long run is cut at a space (folded text: single spaces)
        while len(part) - start > MAX_SEGMENT and len(out) < MAX_SEGMENTS:
            space = part.rfind(" ", start + MAX_SEGMENT // 2, start + MAX_SEGMENT)
            end = space if space > 0 else start + MAX_SEGMENT
            out.append(part[start:end])
            start = end + 1 if space > 0 else end
        out.append(part[start:])
        if len(out) >= MAX_SEGMENTS:
            break
    return out[:MAX_SEGMENTS]


def words(part: str) -> list[str]:
    """The words of a segment as the sentence head reads them, between its pseudo-words."""
    return [_START, *classifier.WORD.findall(part), _ENDS.get(part[-1:], _OPEN)]


def features(parts: list[str]) -> tuple[classifier.Indices, classifier.Indices, int]:
    """(segment id, bucket) of every character n-gram and word n-gram, for all segments.

    Returned as two int64 arrays of keys `segment * 2**BITS + bucket` (characters, words)
    and the number of segments.
    """
    width = np.int64(1 << classifier.BITS)
    padded = "".join(f" ^ {p} " for p in parts)
    codes = np.frombuffer(padded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    lengths = np.fromiter((len(p) + 4 for p in parts), np.int64, len(parts))
    owner = np.repeat(np.arange(len(parts), dtype=np.int64), lengths)
    chars = [
        seg[same] * width + buckets[same]
        for seg, same, buckets in classifier.char_grams(codes.astype(np.uint64), owner)
    ]
    found = [words(part) for part in parts]
    w = classifier.word_codes([w for ws in found for w in ws])
    counts = np.fromiter((len(ws) for ws in found), np.int64, len(found))
    wo = np.repeat(np.arange(len(parts), dtype=np.int64), counts)
    uni, bi = classifier.word_grams(w)
    same = wo[:-1] == wo[1:] if len(wo) > 1 else np.zeros(0, dtype=bool)
    word_keys = np.concatenate([wo * width + uni, wo[:-1][same] * width + bi[same]])
    char_keys = np.concatenate(chars) if chars else np.zeros(0, dtype=np.int64)
    return char_keys, word_keys, len(parts)


def segment_logits(
    weights: npt.NDArray[np.float32], bias: float, parts: list[str]
) -> npt.NDArray[np.float64]:
    """The sentence head's logit of each segment (binary, L2-normalised per family)."""
    if not parts:
        return np.zeros(0)
    char_keys, word_keys, n = features(parts)
    return _logits(weights, bias, (_distinct(char_keys), _distinct(word_keys)), n)


# Keys are `segment << BITS | bucket`: the two halves come back with a shift and a mask.
_MASK = np.int64((1 << classifier.BITS) - 1)


def _distinct(keys: classifier.Indices) -> tuple[classifier.Indices, classifier.Indices]:
    """(segment, bucket) of each distinct key, sorted by segment then bucket."""
    if not len(keys):
        return keys, keys
    present = classifier.distinct(keys)
    return present >> classifier.BITS, present & _MASK


def _logits(
    weights: npt.NDArray[np.float32],
    bias: float,
    families: tuple[tuple[classifier.Indices, classifier.Indices], ...],
    n: int,
) -> npt.NDArray[np.float64]:
    out = np.full(n, bias, dtype=np.float64)
    for seg, buckets in families:
        if not len(seg):
            continue
        sums = np.bincount(seg, weights=weights[buckets], minlength=n)
        counts = np.bincount(seg, minlength=n)
        out += sums / np.sqrt(np.maximum(counts, 1))
    return out


def evidence(weights: npt.NDArray[np.float32], bias: float, folded: str) -> Evidence | None:
    """The highest-scoring segment of a folded text, the mean of the others, and how much
    of it the rest of the document shares; None when it has no segment worth scoring."""
    parts = segments(folded)
    if not parts:
        return None
    char_keys, word_keys, n = features(parts)
    chars = _distinct(char_keys)
    logits = _logits(weights, bias, (chars, _distinct(word_keys)), n)
    best = int(np.argmax(logits))
    top = float(logits[best])
    if n == 1:  # nothing for it to be out of place in: read as a prompt only
        return Evidence(top, top, 1.0, parts[best], n)
    rest = float((logits.sum() - top) / (n - 1))
    return Evidence(top, rest, _shared(*chars, best), parts[best], n)


def _shared(seg: classifier.Indices, buckets: classifier.Indices, best: int) -> float:
    """The share of segment `best`'s distinct character n-grams that other segments have
    (`seg`, `buckets`: the distinct keys, sorted by segment then bucket)."""
    lo, hi = np.searchsorted(seg, (best, best + 1))
    if lo == hi or hi - lo == len(seg):  # no n-gram of its own, or none elsewhere
        return 0.0
    own = buckets[lo:hi]  # distinct and sorted already
    others = np.sort(np.concatenate((buckets[:lo], buckets[hi:])))
    at = np.minimum(np.searchsorted(others, own), len(others) - 1)
    return float((others[at] == own).mean())
