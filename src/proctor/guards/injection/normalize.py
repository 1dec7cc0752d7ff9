"""Undo the usual obfuscations before an injection is looked for: `views(text) -> Views`.

An attacker hides "ignore previous instructions" from a filter by writing it in look-alike
letters (a Cyrillic o for a Latin o, fullwidth or mathematical letters), with zero-width characters
or spaces between the letters ("i g n o r e", "ig-nore"), in leetspeak ("1gn0r3"), or encoded
(base64, hex, rot13, URL escapes, HTML entities, reversed, Unicode tag characters). This
module turns a text into the views the heuristics and the classifier read:

- `text`: NFKC, invisible characters removed, diacritics and look-alikes folded to Latin,
  lower case, runs of spaces collapsed (newlines kept: role delimiters live at line starts);
- `squashed`: `text` with leetspeak digits read as letters and everything but letters
  dropped, so that every spacing and punctuation trick reads "ignorepreviousinstructions";
- `decoded`: payloads decoded from plausible encoded segments, each folded like `text`.

Everything is linear in the length of the text and bounded: at most `MAX_SCAN` characters
are read, decoders look only at segments their regular expressions (without nested
repetition) find, at most `_MAX_SEGMENTS` of them, and decode at most `_MAX_DECODED`
characters in all.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from urllib.parse import unquote

# Longer texts are read as their first and last halves of this: an injection is usually at
# either end, and size limits belong to input validation, not to this detector.
MAX_SCAN = 100_000
_MAX_SEGMENTS = 16
_MAX_DECODED = 16_384

_INVISIBLE = dict.fromkeys(
    [
        *(0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0),
        *range(0x200B, 0x2010),  # zero-width space / joiners, LRM, RLM
        *range(0x202A, 0x202F),  # bidi embeddings and overrides
        *range(0x2060, 0x2070),  # word joiner, invisible operators, bidi isolates
        *range(0xFE00, 0xFE10),  # variation selectors
        *range(0xE0000, 0xE0080),  # tag characters (decoded separately, as a payload)
    ]
)

# Look-alikes that NFKC leaves alone: Cyrillic and Greek letters that render as Latin ones,
# and Latin small capitals. Applied after lower-casing, so only lower-case forms are listed.
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "н": "h",  # noqa: RUF001
        "і": "i", "ї": "i", "ј": "j", "к": "k", "ӏ": "l", "м": "m", "п": "n", "о": "o",  # noqa: RUF001
        "р": "p", "ԛ": "q", "г": "r", "ѕ": "s", "т": "t", "ц": "u", "ѵ": "v", "ԝ": "w",  # noqa: RUF001
        "х": "x", "у": "y", "з": "3", "ь": "b",  # noqa: RUF001
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",  # noqa: RUF001
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "γ": "y", "μ": "u", "ς": "s",  # noqa: RUF001
        "σ": "o", "ϲ": "c", "ϳ": "j",  # noqa: RUF001
        # Latin small capitals and other look-alikes
        "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h",  # noqa: RUF001
        "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p",  # noqa: RUF001
        "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",  # noqa: RUF001
        "ı": "i", "ɡ": "g", "ɩ": "i", "ℓ": "l",  # noqa: RUF001
        # Typographic quotes and apostrophes, read as ASCII ones
        "’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"',  # noqa: RUF001
    }
)  # fmt: skip
# Combining marks (diacritics), dropped after NFKD.
_COMBINING_RANGES = (
    (0x300, 0x36F),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)
_COMBINING = re.compile(
    "[" + "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in _COMBINING_RANGES) + "]+"
)
_INVISIBLE_CHARS = frozenset(map(chr, _INVISIBLE))
_CONFUSABLE_CHARS = frozenset(map(chr, _CONFUSABLES))
_COMBINING_CHARS = frozenset(chr(c) for a, b in _COMBINING_RANGES for c in range(a, b + 1))
# Runs of two or more, or any blank that is not a plain space: single spaces cost nothing.
_SPACES = re.compile(r"[^\S\n]{2,}|[^\S \n]")
_NEWLINES = re.compile(r" ?\n[\s]*")

# Leetspeak, read only in the squashed view (where digits carry no meaning anyway).
_LEET = bytes.maketrans(b"013457@$", b"oieastas")
_NOT_LETTER = bytes(c for c in range(256) if not (97 <= c <= 122 or chr(c) in "013457@$"))


@dataclass(frozen=True, slots=True)
class Views:
    text: str
    squashed: str
    decoded: tuple[tuple[str, str], ...]  # (encoding, folded payload)


def fold(text: str) -> str:
    """NFKC, invisible characters out, diacritics and look-alikes to Latin, lower case."""
    if not text.isascii():
        # Each step runs only when the text has a character it changes: `str.translate`
        # with a table looks every character up (~80 ns each), a set of them costs ~10 ns.
        if not _INVISIBLE_CHARS.isdisjoint(text):
            text = text.translate(_INVISIBLE)
        text = unicodedata.normalize("NFKC", text)
        if not unicodedata.is_normalized("NFKD", text):
            text = unicodedata.normalize("NFKD", text)
        if not _COMBINING_CHARS.isdisjoint(text):
            text = _COMBINING.sub("", text)
        text = text.lower()
        if not _CONFUSABLE_CHARS.isdisjoint(text):
            text = text.translate(_CONFUSABLES)
    else:
        text = text.lower()
    # Scans only when needed: a regular expression costs ~20 ns per character even unmatched.
    if "  " in text or not text.isascii() or any(c in text for c in "\t\r\f\v"):
        text = _SPACES.sub(" ", text)
    if "\n" in text:
        text = _NEWLINES.sub("\n", text)
    return text.strip()


def squash(folded: str) -> str:
    """Letters only, leetspeak read as letters: "i g-n 0 r e" -> "ignore"."""
    raw = folded.encode("ascii", "ignore")  # folded: a letter still non-ASCII is not Latin
    return raw.translate(_LEET, _NOT_LETTER).decode("ascii")


def views(text: str) -> Views:
    text = bounded(text)
    folded = fold(text)
    return Views(folded, squash(folded), tuple(decode_payloads(text)))


def bounded(text: str) -> str:
    if len(text) <= MAX_SCAN:
        return text
    half = MAX_SCAN // 2
    return text[:half] + "\n" + text[-half:]


# --- decoders -----------------------------------------------------------------------------

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{20,4096}={0,2}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_HEX_ESCAPED = re.compile(r"(?:\\x[0-9a-fA-F]{2}){8,2048}")
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
_ENTITY = re.compile(r"&#x?[0-9a-fA-F]{2,6};")
# Common English words after rot13 ("the", "and", "you", "ignore", "instructions"...): two of
# them in a text that is not otherwise English are a cheap, reliable sign of rot13.
_ROT13_WORDS = re.compile(
    r"\b(?:gur|naq|lbh|lbhe|vtaber|cerivbhf|vafgehpgvbaf|flfgrz|cebzcg|nyy|jvgu|guvf|vf)\b"
)
_ROT13_HINTS = ("gur ", "naq ", "lbh", "vtaber", "flfgrz")
_TAG = re.compile("[\U000e0020-\U000e007e]")
# Reversed "instructions", "ignore", "prompt", "previous", "disregard".
_REVERSED_WORDS = ("snoitcurtsni", "erongi", "tpmorp", "suoiverp", "drageresid")


def decode_payloads(text: str) -> list[tuple[str, str]]:
    """Plausible encoded segments of `text`, decoded and folded; bounded work."""
    found: list[tuple[str, str]] = []
    budget = _MAX_DECODED

    def keep(encoding: str, payload: str | None) -> None:
        nonlocal budget
        if payload and budget > 0 and _readable(payload):
            payload = payload[:budget]
            budget -= len(payload)
            found.append((encoding, fold(payload)))

    # One scan: a hex run is a base64-alphabet run too, told apart after the match.
    for match in _take(_BASE64.finditer(text)):
        segment = match.group()
        if _HEX.fullmatch(segment):
            keep("hex", _hex(segment))
        else:
            keep("base64", _b64(segment))
    if "\\x" in text:
        for match in _take(_HEX_ESCAPED.finditer(text)):
            keep("hex", _hex(match.group().replace("\\x", "")))
    head = text[:_MAX_DECODED]
    if "%" in head and len(_PERCENT.findall(head)) >= 3:
        keep("url", unquote(head))
    if "&#" in head and _ENTITY.search(head):
        keep("html", html.unescape(head))
    lowered = head.lower()
    if any(w in lowered for w in _ROT13_HINTS) and len(_ROT13_WORDS.findall(lowered)) >= 2:
        keep("rot13", codecs.encode(head, "rot13"))
    if any(w in lowered for w in _REVERSED_WORDS):
        keep("reversed", head[::-1])
    if not text.isascii() and _TAG.search(text):
        tags = "".join(chr(ord(c) - 0xE0000) for c in text if 0xE0020 <= ord(c) <= 0xE007E)
        keep("unicode-tags", tags)
    return found


def _take(matches: Iterator[re.Match[str]]) -> Iterator[re.Match[str]]:
    return islice(matches, _MAX_SEGMENTS)


def _b64(segment: str) -> str | None:
    # A word like "internationalization" is a valid base64 alphabet run: require a sign of
    # encoded data (a digit, '+', '/', '=' or mixed case) before paying for a decode.
    if segment.isalpha() and (segment.islower() or segment.isupper()):
        return None
    body = segment.rstrip("=")
    body += "=" * (-len(body) % 4)
    try:
        if "-" in body or "_" in body:
            raw = base64.urlsafe_b64decode(body)
        else:
            raw = base64.b64decode(body)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _hex(segment: str) -> str | None:
    segment = segment[: len(segment) // 2 * 2]
    try:
        return bytes.fromhex(segment).decode("utf-8")
    except ValueError:
        return None


def _readable(payload: str) -> bool:
    """Mostly printable text with some letters and a space: not binary noise."""
    if len(payload) < 8:
        return False
    printable = sum(1 for c in payload[:512] if c.isprintable() or c in "\n\t")
    letters = sum(1 for c in payload[:512] if c.isalpha())
    sample = min(len(payload), 512)
    return printable >= 0.95 * sample and letters >= 0.5 * sample and " " in payload
