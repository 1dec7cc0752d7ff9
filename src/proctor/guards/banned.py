"""Banned substrings and topics from config: `BannedTerms(substrings, topics)(text)`.

Matching is on normalised text: compatibility forms folded (NFKC: full-width letters,
ligatures, superscripts), case folded, and any run of whitespace in the text matches the
single space between the words of a phrase. A phrase matches only as whole words: "ass" does
not match "class" (a boundary is required only where the phrase begins or ends with a letter or
digit of a space-separated script; Chinese, Japanese and Thai phrases match anywhere).

All phrases are compiled once into one regular expression shaped as a trie (shared prefixes
factored out), so a text is scanned once whatever the number of phrases. The whole text is
normalised in one call; when that changes its length (an ellipsis becomes "...", a sharp s
"ss"), a match's offsets are mapped back to the original by a binary search over prefixes.
Invisible characters inside a word ("bo\u200bmb") are not skipped here: the input guard
strips them first (`unicode.strip_invisible`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from proctor.guards.base import Detection

BANNED_SUBSTRING = "BANNED_SUBSTRING"

_WHITESPACE = re.compile(r"\s+")
_Trie = dict[str, "_Trie"]
_END = ""


def normalise(text: str) -> str:
    """How a phrase from config is compared: NFKC, case-folded, single spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _WHITESPACE.sub(" ", folded).strip()


def _unspaced_script(char: str) -> bool:
    """Scripts written without spaces between words, where no word boundary can be asked."""
    code = ord(char)
    return 0x0E00 <= code <= 0x0EFF or 0x3040 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF


def _bounded(char: str) -> bool:
    return (char.isalnum() or char == "_") and not _unspaced_script(char)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _fold(text: str) -> tuple[str, bool]:
    """The normalised text, and whether its positions are those of `text`."""
    if text.isascii():
        return text.lower(), True
    folded = _folded(text)
    # Case folding maps each character to at least one, so an unchanged length means one for
    # one; an NFKC-normalised text is left as it is.
    return folded, len(folded) == len(text) and unicodedata.is_normalized("NFKC", text)


def _original(text: str, position: int) -> int:
    """The first index of `text` whose prefix folds to at least `position` characters: where
    a normalised offset falls in the original. A binary search over prefixes, done only for a
    match, so that the scan itself stays one pass in C over the whole text."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high) // 2
        if len(_folded(text[:middle])) >= position:
            high = middle
        else:
            low = middle + 1
    return low


def _piece(char: str) -> str:
    return r"\s+" if char == " " else re.escape(char)


def _trie_regex(node: _Trie, last: str) -> str:
    alternatives = [
        _piece(char) + _trie_regex(child, char) for char, child in sorted(node.items()) if char
    ]
    if _END in node:
        # Longer phrases first (they are tried first); the end of a phrase needs a boundary.
        alternatives.append(r"(?!\w)" if _bounded(last) else "")
    if len(alternatives) == 1:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")"


def compile_phrases(phrases: Sequence[str]) -> re.Pattern[str] | None:
    """One trie-shaped pattern matching any of the (normalised, non-empty) `phrases` as whole
    words, longest first; None when there are none."""
    bounded: _Trie = {}
    free: _Trie = {}
    for phrase in phrases:
        node = bounded if _bounded(phrase[0]) else free
        for char in phrase:
            node = node.setdefault(char, {})
        node[_END] = {}
    branches = []
    if bounded:
        branches.append(r"(?<!\w)" + _trie_regex(bounded, ""))
    if free:
        branches.append(_trie_regex(free, ""))
    return re.compile("|".join(branches)) if branches else None


class BannedTerms:
    """A detector (kind "topic") for banned substrings (type BANNED_SUBSTRING) and topic
    phrases (type: the topic's name)."""

    def __init__(self, substrings: Sequence[str], topics: Mapping[str, Sequence[str]]) -> None:
        types: dict[str, list[str]] = {}
        for phrase in substrings:
            if key := normalise(phrase):
                types.setdefault(key, []).append(BANNED_SUBSTRING)
        for topic, phrases in topics.items():
            for phrase in phrases:
                if (key := normalise(phrase)) and topic not in types.get(key, ()):
                    types.setdefault(key, []).append(topic)
        self._types = types
        self._pattern = compile_phrases(sorted(types))

    def __call__(self, text: str) -> list[Detection]:
        if self._pattern is None or not text:
            return []
        folded, same = _fold(text)
        found: list[Detection] = []
        for match in self._pattern.finditer(folded):
            phrase = _WHITESPACE.sub(" ", match[0])
            start, end = match.span()
            if not same:  # the character that produced the match's first one, and its last
                start = max(0, _original(text, start + 1) - 1)
                end = _original(text, end)
            for kind in self._types.get(phrase, ()):
                found.append(Detection("topic", kind, start, end, 1.0, f"matched {phrase!r}"))
        return found
