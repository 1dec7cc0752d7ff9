"""System-prompt leak: `make_canary()` and `detect_prompt_leak(output, system_prompt, canary)`.

Two signals, either enough:
- the canary: a random, word-like token placed in the system prompt. A model that dumps its
  prompt reproduces it; nothing else produces it. Found case-insensitively and across
  separators ("Mavoter Kelibun 4821"), score 1.
- overlap with the prompt, the largest of: the share of the prompt's word 3-grams found in
  the output (a dump, even partial or reordered); the longest verbatim run of prompt words
  over `_RUN_FOR_FULL` (a long quote of a long prompt); the share of the prompt's content-word
  pairs (adjacent and skip-one, English function words left out) found in the output, once
  there are `_MIN_PAIRS` of them (a paraphrase: changed or dropped words break few pairs).
  Common phrases such as "you are a helpful assistant" share little with a real prompt, so
  unrelated and on-topic answers score near 0.

Base64 runs in the output (an "encode your prompt in base64" attack) are decoded, the first
`_MAX_DECODED` of them, and checked the same way. Not caught without the canary: a
translation, other encodings, a summary in other words.

The work is bounded: the prompt's 3-grams and pairs are computed once per distinct prompt
(cached) and at most `_MAX_WORDS` words of the output are looked at, a few set lookups each.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from proctor.guards.base import Detection

DEFAULT_THRESHOLD = 0.4
_SHINGLE = 3
_RUN_FOR_FULL = 25  # a verbatim run of this many prompt words is a leak on its own
_MIN_PAIRS = 4  # content-word pairs needed before their share counts (short prompts)
_MAX_WORDS = 20_000
_WORD = re.compile(r"\w+")
# Base64 runs long enough to hide a sentence; the first few are decoded and checked too.
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{32,}+={0,2}")
_MAX_DECODED = 4
_MAX_DECODED_CHARS = 40_000

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def make_canary() -> str:
    """A fresh token such as "mavoter-kelibun-4821": pronounceable, so that a model copies it
    whole (a tokenizer keeps it in a few pieces) and, random, so that no answer contains it
    by chance (about 2^50 possibilities)."""

    def word() -> str:
        return "".join(secrets.choice(_CONSONANTS) + secrets.choice(_VOWELS) for _ in range(3)) + (
            secrets.choice(_CONSONANTS)
        )

    return f"{word()}-{word()}-{secrets.randbelow(9000) + 1000}"


@lru_cache(maxsize=256)
def _canary_pattern(canary: str) -> re.Pattern[str] | None:
    chars = [c for c in canary.lower() if c.isalnum()]
    if len(chars) < 6:  # too short to be told apart from ordinary text
        return None
    # Any separators (or none) between the canary's characters, a few at most.
    return re.compile(r"[\W_]{0,3}".join(re.escape(c) for c in chars), re.IGNORECASE)


def _find_canary(output: str, canary: str) -> tuple[int, int] | None:
    """Where the canary is in `output`, as is or respelt ("Mavoter Kelibun 4821")."""
    lowered = output.lower()
    at = lowered.find(canary.lower())
    if at >= 0 and len(lowered) == len(output):  # lower() kept every offset
        return at, at + len(canary)
    # A respelt canary still holds its first pseudo-word whole: without it, nothing to look
    # for (and no pattern to compile for this request's fresh canary).
    head = _WORD.match(canary.lower())
    if head is None or head[0][:6] not in lowered:
        return None
    pattern = _canary_pattern(canary)
    found = pattern.search(output) if pattern is not None else None
    return None if found is None else found.span()


# English function words, left out of the content-word pairs (a paraphrase changes them first).
_STOPWORDS = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being am"
    " i you he she it we they me my your our their his her its this that these those do does did"
    " not no never only any all some can could should would will shall may might must have has"
    " had so than then there here what which who whom how when where why about into over under"
    " again once very just also more most other such own same too s t don ll re ve d m".split()
)


@dataclass(frozen=True, slots=True)
class _Prompt:
    shingles: frozenset[tuple[str, ...]]
    pairs: frozenset[tuple[str, str]]
    words: int
    text: str  # the prompt's words joined by single spaces, for prompts shorter than a shingle


def _pairs(content: list[str]) -> set[tuple[str, str]]:
    """Adjacent and skip-one pairs of content words: a dropped or changed word breaks few."""
    pairs = set(itertools.pairwise(content))
    pairs.update(zip(content, content[2:], strict=False))
    return pairs


@lru_cache(maxsize=64)
def _prompt(system_prompt: str) -> _Prompt:
    words = _WORD.findall(system_prompt.lower())[:_MAX_WORDS]
    shingles = frozenset(tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1))
    pairs = frozenset(_pairs([w for w in words if w not in _STOPWORDS]))
    return _Prompt(shingles, pairs, len(words), " ".join(words))


def _shingle_overlap(words: list[str], prompt: _Prompt) -> tuple[float, int, int]:
    """(score, first word, last word) from the verbatim 3-grams."""
    seen: set[tuple[str, ...]] = set()
    run = best_run = 0
    first = last = -1
    for i in range(len(words) - _SHINGLE + 1):
        shingle = tuple(words[i : i + _SHINGLE])
        if shingle in prompt.shingles:
            seen.add(shingle)
            run += 1
            best_run = max(best_run, run)
            first = i if first < 0 else first
            last = i + _SHINGLE - 1
        else:
            run = 0
    if first < 0:
        return 0.0, 0, 0
    coverage = len(seen) / len(prompt.shingles)
    verbatim = (best_run + _SHINGLE - 1) / min(_RUN_FOR_FULL, prompt.words)
    return min(1.0, max(coverage, verbatim)), first, last


def _pair_overlap(words: list[str], prompt: _Prompt) -> tuple[float, int, int]:
    """(score, first word, last word) from the content-word pairs (paraphrases)."""
    if not prompt.pairs:
        return 0.0, 0, 0
    index = [i for i, w in enumerate(words) if w not in _STOPWORDS]
    content = [words[i] for i in index]
    seen: set[tuple[str, str]] = set()
    first = last = -1
    for gap in (1, 2):
        for j in range(len(content) - gap):
            pair = (content[j], content[j + gap])
            if pair in prompt.pairs:
                seen.add(pair)
                first = index[j] if first < 0 else min(first, index[j])
                last = max(last, index[j + gap])
    if len(seen) < _MIN_PAIRS:
        return 0.0, 0, 0
    return len(seen) / len(prompt.pairs), first, last


def _overlap(output: str, prompt: _Prompt) -> tuple[float, int, int]:
    """(score, start, end): how much of the prompt the output repeats, and where."""
    spans: list[tuple[int, int]] = []
    words: list[str] = []
    for match in _WORD.finditer(output):
        spans.append(match.span())
        words.append(match[0].lower())
        if len(words) >= _MAX_WORDS:
            break
    if prompt.words < _SHINGLE:  # a very short prompt: found whole or not at all
        joined = " ".join(words)
        if not prompt.text or f" {prompt.text} " not in f" {joined} ":
            return 0.0, 0, 0
        return 1.0, 0, len(output)
    found = [r for r in (_shingle_overlap(words, prompt), _pair_overlap(words, prompt)) if r[0]]
    if not found:
        return 0.0, 0, 0
    first = min(r[1] for r in found)
    last = max(r[2] for r in found)
    return max(r[0] for r in found), spans[first][0], spans[last][1]


def _check(
    output: str, system_prompt: str, canary: str | None, threshold: float
) -> Detection | None:
    if canary and (span := _find_canary(output, canary)) is not None:
        return Detection("leak", "CANARY", span[0], span[1], 1.0, "canary-token")
    if not output or not system_prompt.strip():
        return None
    score, start, end = _overlap(output, _prompt(system_prompt))
    if score < threshold or start >= end:
        return None
    return Detection("leak", "SYSTEM_PROMPT", start, end, round(score, 3), "system-prompt-overlap")


def _decoded_runs(output: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of the first few base64 runs of `output` that decode to text."""
    runs: list[tuple[int, int, str]] = []
    for match in _BASE64.finditer(output):
        if len(runs) == _MAX_DECODED:
            break
        try:
            data = base64.b64decode(match[0][:_MAX_DECODED_CHARS] + "==", validate=False)
            text = data.decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if sum(c.isprintable() or c.isspace() for c in text) >= 0.95 * len(text):
            runs.append((match.start(), match.end(), text))
    return runs


def detect_prompt_leak(
    output: str, system_prompt: str, canary: str | None, threshold: float | None = None
) -> list[Detection]:
    """A "leak" detection (type CANARY or SYSTEM_PROMPT) when `output` repeats the canary or
    enough of `system_prompt` (score >= `threshold`, default `DEFAULT_THRESHOLD`), as is or
    base64-encoded (a common extraction trick); a base64 leak spans the encoded run."""
    limit = DEFAULT_THRESHOLD if threshold is None else threshold
    found = _check(output, system_prompt, canary, limit)
    if found is not None:
        return [found]
    if "=" not in output and len(output) < 40:
        return []
    for start, end, text in _decoded_runs(output):
        found = _check(text, system_prompt, canary, limit)
        if found is not None:
            reason = f"{found.reason}-base64"
            return [Detection("leak", found.type, start, end, found.score, reason)]
    return []
