"""Redaction of detected spans, and the reversible kind: placeholders restored in the reply.

Three modes. `mask` replaces a value with its type (`[EMAIL]`), `hash` with its type and a
keyed hash (`[EMAIL:3f9a0c21d4]`, the same value always the same hash under one key, so
logs can still be joined on it), and `placeholder` with a numbered name (`[EMAIL_1]`) that
a per-request `Placeholders` maps back to the value. The provider only ever sees the
placeholder; the reply is restored before the caller gets it, also when it streams and a
placeholder arrives cut between two chunks (`StreamRestorer` holds back a possible
placeholder prefix until the next chunk says whether it is one).

The mapping lives in the request's memory only: it is never logged, traced or stored.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Sequence

from proctor.guards.base import Detection

# What a placeholder looks like, and the longest one restored.
_TOKEN = re.compile(r"\[[A-Z][A-Z0-9_]*_[0-9]{1,6}\]")
_PREFIX = re.compile(r"\[[A-Z0-9_]*")
MAX_TOKEN = 40


class Placeholders:
    """One request's placeholders: the same value gets the same name everywhere in it."""

    __slots__ = ("_counts", "_names", "_taken", "_values")

    def __init__(self) -> None:
        self._names: dict[tuple[str, str], str] = {}  # (type, value) -> name
        self._values: dict[str, str] = {}  # name -> value
        self._counts: dict[str, int] = {}
        self._taken: set[str] = set()  # names written literally somewhere in the request

    def __bool__(self) -> bool:
        return bool(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def reserve(self, texts: Iterable[str]) -> None:
        """Names written literally in `texts` (every text of the request): never issued, so
        a literal `[EMAIL_1]` in one message is not mistaken for a value of another."""
        for text in texts:
            if "[" in text:
                self._taken.update(_TOKEN.findall(text))

    def name_for(self, type_: str, value: str, text: str) -> str:
        """The placeholder for `value`; a new one skips names already written in `text` (or
        reserved), so a user's own literal `[EMAIL_1]` is never mistaken for one of ours."""
        key = (type_, value)
        name = self._names.get(key)
        if name is not None:
            return name
        count = self._counts.get(type_, 0)
        while True:
            count += 1
            name = f"[{type_}_{count}]"
            if name not in text and name not in self._taken:
                break
        self._counts[type_] = count
        self._names[key] = name
        self._values[name] = value
        return name

    def restore(self, text: str, *, json_string: bool = False) -> str:
        """`text` with every placeholder this request issued replaced by its value.
        `json_string`: `text` is JSON (a tool call's arguments), where the placeholder sits
        inside a string, so a value with a quote, a backslash or a newline is escaped."""
        if not self._values or "[" not in text:
            return text
        values = self._values
        if json_string:
            return _TOKEN.sub(lambda m: _json_body(values.get(m.group(0), m.group(0))), text)
        return _TOKEN.sub(lambda m: values.get(m.group(0), m.group(0)), text)

    def restorer(self, *, json_string: bool = False) -> StreamRestorer:
        return StreamRestorer(self, json_string=json_string)


def _json_body(value: str) -> str:
    """`value` as the inside of a JSON string. A value taken from JSON itself (earlier tool
    call arguments) is already escaped and goes back as it was."""
    try:
        json.loads(f'"{value}"')
    except ValueError:
        return json.dumps(value, ensure_ascii=False)[1:-1]
    return value


class StreamRestorer:
    """Restores placeholders in a text that arrives in pieces (one per text channel: the
    content of a choice, the arguments of a tool call)."""

    __slots__ = ("_json", "_pending", "_placeholders")

    def __init__(self, placeholders: Placeholders, *, json_string: bool = False) -> None:
        self._placeholders = placeholders
        self._pending = ""
        self._json = json_string

    def feed(self, piece: str) -> str:
        """What can be released of `piece` now, restored; a tail that may be the start of a
        placeholder is kept for the next piece (at most MAX_TOKEN characters)."""
        if not self._pending:
            if "[" not in piece:
                return piece  # the usual piece: nothing to restore, nothing to hold
            text = piece
        else:
            text = self._pending + piece
            self._pending = ""
        cut = text.rfind("[")
        if cut != -1 and len(text) - cut < MAX_TOKEN and _PREFIX.fullmatch(text, cut):
            self._pending = text[cut:]
            text = text[:cut]
        return self._placeholders.restore(text, json_string=self._json)

    def flush(self) -> str:
        """The held tail, at the end of the stream."""
        text, self._pending = self._pending, ""
        return self._placeholders.restore(text, json_string=self._json)


class Redactor:
    """Replaces detected spans in one mode. Compiled once per rule; `hash_key` None draws a
    random key (hashes then join only within one configuration)."""

    __slots__ = ("_key", "mode")

    def __init__(self, mode: str, hash_key: str | None = None) -> None:
        self.mode = mode
        self._key = hash_key.encode() if hash_key else secrets.token_bytes(16)

    def replacement(self, detection: Detection, value: str, text: str, ph: Placeholders) -> str:
        type_ = detection.type
        if self.mode == "placeholder":
            return ph.name_for(type_, value, text)
        if self.mode == "hash":
            # surrogatepass: a lone surrogate (possible in-process, never from JSON) is hashed
            # like any other character instead of failing the request.
            data = value.encode("utf-8", "surrogatepass")
            digest = hashlib.blake2b(data, key=self._key, digest_size=5).hexdigest()
            return f"[{type_}:{digest}]"
        return f"[{type_}]"

    def redact(self, text: str, detections: Sequence[Detection], ph: Placeholders) -> str:
        """`text` with each detected span replaced (overlapping spans: the first, longest)."""
        parts: list[str] = []
        at = 0
        for detection in sorted(detections, key=lambda d: (d.start, -d.end)):
            start, end = detection.start, detection.end
            if start < at or end <= start or end > len(text):
                continue  # inside a span already replaced, or not a span of this text
            parts.append(text[at:start])
            parts.append(self.replacement(detection, text[start:end], text, ph))
            at = end
        if not parts:
            return text
        parts.append(text[at:])
        return "".join(parts)
