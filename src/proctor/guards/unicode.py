"""Invisible and control characters: `detect_invisible(text)` and `strip_invisible(text)`.

What a reader cannot see can still steer a model or hide from a filter:
- ZERO_WIDTH: zero-width space / joiners, word joiner, BOM, soft hyphen, invisible operators,
  Hangul fillers: they split words so that keyword filters miss them ("ig\u200bnore").
- BIDI: direction marks, embeddings, overrides and isolates. Overrides and isolates reorder
  what is displayed against what is read (Trojan Source, CVE-2021-42574).
- TAG: the U+E0000 block. Tag characters mirror ASCII and render as nothing, so a whole
  instruction can ride along invisibly ("ASCII smuggling"); the reason says what they spell.
- VARIATION_SELECTOR: runs of variation selectors, which can carry one byte each (the
  "emoji smuggling" encoding); decoded into the reason when they spell text.
- CONTROL: C0 and C1 control characters except tab, newline and carriage return.
- PRIVATE_USE: private-use code points (icon fonts use them, so they are reported with a low
  score and never stripped).

Left alone because they are how scripts and emoji are written: a zero-width joiner between
two emoji (family and profession sequences) or between letters of a script that needs
joiners (ZWNJ in Persian, ZWJ after a virama in Indic scripts); a single variation selector
after a character (emoji vs text presentation, CJK ideographic variants); the tag sequence of
a subdivision flag (England, Scotland, Wales). Each exception looks only at the neighbouring
characters, so the whole scan stays one regular-expression pass.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from proctor.guards.base import Detection

_CLASSES = {
    "ZERO_WIDTH": (
        "\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200d\u2060-\u2064\u206a-\u206f"
        "\u3164\ufeff\uffa0\U0001d173-\U0001d17a"
    ),
    "BIDI": "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069",
    "TAG": "\U000e0000-\U000e007f",
    "VARIATION_SELECTOR": "\u180b-\u180d\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef",
    "CONTROL": "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufff9-\ufffb",
    "PRIVATE_USE": "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd",
}
# One character class for the scan (a single class is several times faster to search than
# an alternation of six); the rare runs found are then cut by class.
_ANY = re.compile("[" + "".join(_CLASSES.values()) + "]+")
_ONE = {name: re.compile(f"[{chars}]") for name, chars in _CLASSES.items()}
_ASCII_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")  # all an ASCII text can hold

_SCORES = {
    "ZERO_WIDTH": 0.8,
    "BIDI": 1.0,
    "TAG": 1.0,
    "VARIATION_SELECTOR": 1.0,
    "CONTROL": 0.8,
    "PRIVATE_USE": 0.3,
}
_ZWNJ, _ZWJ = "\u200c", "\u200d"
_BIDI_MARKS = frozenset("\u061c\u200e\u200f")  # marks only: they reorder nothing alone
_BLACK_FLAG, _CANCEL_TAG = "\U0001f3f4", "\U000e007f"
_FLAG_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# How much decoded smuggled text goes into a reason.
_REASON_CHARS = 80


def _is_emoji(char: str) -> bool:
    code = ord(char)
    return (
        0x1F000 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or 0x2300 <= code <= 0x23FF
        or 0x2B00 <= code <= 0x2BFF
        or char == "\ufe0f"
    )


def _joins_script(before: str, after: str) -> bool:
    """A joiner between letters (or a letter and its virama) outside Latin scripts."""
    return (
        ord(before) > 0x2FF
        and ord(after) > 0x2FF
        and after.isalpha()
        and (before.isalpha() or unicodedata.category(before) in ("Mn", "Mc"))
    )


def _is_ideograph(char: str) -> bool:
    code = ord(char)
    return 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x3FFFF


def _legitimate(kind: str, text: str, start: int, end: int) -> bool:
    """Whether the run text[start:end] is part of how something is normally written."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if kind == "ZERO_WIDTH":
        run = text[start:end]
        if run not in (_ZWJ, _ZWNJ) or not before or not after:
            return False
        if run == _ZWJ and _is_emoji(before) and _is_emoji(after):
            return True
        return _joins_script(before, after)
    if kind == "VARIATION_SELECTOR":
        if end - start != 1 or not before or before.isspace():
            return False
        return ord(text[start]) < 0xE0100 or _is_ideograph(before)
    if kind == "TAG":  # a subdivision flag: black flag, 2-7 lowercase tags, cancel tag
        body = text[start : end - 1]
        return (
            before == _BLACK_FLAG
            and text[end - 1] == _CANCEL_TAG
            and 2 <= len(body) <= 7
            and all(chr(ord(c) - 0xE0000) in _FLAG_LETTERS for c in body)
        )
    return False


def _printable(decoded: str) -> str | None:
    if not decoded.strip() or sum(c.isprintable() for c in decoded) < 0.9 * len(decoded):
        return None
    return decoded[:_REASON_CHARS]


def _tag_text(run: str) -> str | None:
    return _printable("".join(chr(ord(c) - 0xE0000) for c in run if 0xE0020 <= ord(c) <= 0xE007E))


def _selector_text(run: str) -> str | None:
    """Bytes carried one per selector: VS1-VS16 are 0-15, VS17-VS256 are 16-255."""
    data = bytes(
        ord(c) - 0xFE00 if ord(c) < 0xE0100 else ord(c) - 0xE0100 + 16
        for c in run
        if 0xFE00 <= ord(c) <= 0xFE0F or 0xE0100 <= ord(c) <= 0xE01EF
    )
    return _printable(data.decode("utf-8", errors="replace"))


def _reason(kind: str, run: str) -> str:
    if kind == "TAG" and (said := _tag_text(run)) is not None:
        return f"tag characters spell {said!r}"
    if kind == "VARIATION_SELECTOR" and len(run) > 1 and (said := _selector_text(run)) is not None:
        return f"variation selectors encode {said!r}"
    names = sorted({unicodedata.name(c, f"U+{ord(c):04X}") for c in run[:64]})
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"{len(run)} x {shown}"


# Short runs repeat (a zero-width space every other word): their reasons are kept.
_short_reason = lru_cache(maxsize=1024)(_reason)


def _score(kind: str, run: str) -> float:
    if kind == "BIDI" and all(c in _BIDI_MARKS for c in run):
        return 0.5  # LRM / RLM / ALM are common in right-to-left text
    return _SCORES[kind]


@lru_cache(maxsize=4096)
def _class_of(char: str) -> str:
    return next(name for name, pattern in _ONE.items() if pattern.match(char))


def _segments(text: str, start: int, end: int) -> list[tuple[str, int, int]]:
    """The run text[start:end] cut into maximal pieces of one class."""
    pieces: list[tuple[str, int, int]] = []
    for i in range(start, end):
        kind = _class_of(text[i])
        if pieces and pieces[-1][0] == kind:
            pieces[-1] = (kind, pieces[-1][1], i + 1)
        else:
            pieces.append((kind, i, i + 1))
    return pieces


def _runs(text: str) -> Iterator[tuple[str, int, int]]:
    """(class, start, end) of every run to report, legitimate uses left out."""
    pattern = _ASCII_CONTROL if text.isascii() else _ANY  # ASCII can only hold controls
    for match in pattern.finditer(text):
        start, end = match.span()
        if end - start == 1:  # the common case: one character alone
            kind = _class_of(text[start])
            if not _legitimate(kind, text, start, end):
                yield kind, start, end
            continue
        for kind, piece_start, piece_end in _segments(text, start, end):
            if not _legitimate(kind, text, piece_start, piece_end):
                yield kind, piece_start, piece_end


def detect_invisible(text: str) -> list[Detection]:
    """Runs of invisible, bidi, tag, variation-selector, control and private-use characters
    (one detection per run of one class), except the legitimate uses described above."""
    found: list[Detection] = []
    for kind, start, end in _runs(text):
        run = text[start:end]
        reason = _short_reason(kind, run) if len(run) <= 16 else _reason(kind, run)
        found.append(Detection("invisible", kind, start, end, _score(kind, run), reason))
    return found


def strip_invisible(text: str) -> str:
    """`text` without the characters `detect_invisible` reports, private-use ones excepted
    (they are visible glyphs in icon fonts). Emoji and script joiners are kept."""
    parts: list[str] = []
    position = 0
    for kind, start, end in _runs(text):
        if kind != "PRIVATE_USE":
            parts.append(text[position:start])
            position = end
    if not parts:
        return text
    parts.append(text[position:])
    return "".join(parts)
