"""Faults the fake upstream can inject, and the one-line syntax of the `x-fake-fault` header.

A fault is chosen per request, either from the header (so that concurrent tests, or two
providers pointing at the same fake, never interfere) or from a queue a test fills with
`FakeUpstream.fail_next`. The header value is the kind followed by `key=value` options:

    x-fake-fault: 429 retry_after=2
    x-fake-fault: 503 retry_after_ms=1500
    x-fake-fault: drop after=2
    x-fake-fault: delay seconds=0.3
    x-fake-fault: hang
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

STATUS_KINDS = ("400", "401", "404", "429", "500", "503", "529")
FAULT_KINDS = (
    *STATUS_KINDS,
    "delay",  # wait `seconds` before the headers, then answer normally
    "hang",  # never answer (released when the fake stops)
    "stall",  # send the headers, then nothing
    "drop",  # close the connection after `after` stream events (or half a body)
    "disconnect",  # close the connection without any answer
    "malformed",  # 200 with a body (or stream event) that is not JSON
    "wrong_shape",  # 200 with JSON that is not the provider's shape
    "content_type",  # 200 with an HTML page where JSON or SSE was expected
    "truncated",  # Content-Length promises more than is sent, then the connection closes
    "stream_error",  # a stream reports an error in-band after `after` events (streams only)
)
FAULT_HEADER = "x-fake-fault"


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    # Header values are sent verbatim, so an HTTP date can be tested as well as seconds.
    retry_after: str | None = None
    retry_after_ms: str | None = None
    after: int = 1
    seconds: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")

    @property
    def status(self) -> int | None:
        return int(self.kind) if self.kind in STATUS_KINDS else None

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """`"429 retry_after=2"` -> Fault("429", retry_after="2")."""
        kind, *options = spec.split()
        values: dict[str, str] = {}
        for option in options:
            key, sep, value = option.partition("=")
            if not sep:
                raise ValueError(f"fault option {option!r} is not key=value")
            values[key] = value
        return cls.build(kind, **values)

    @classmethod
    def build(cls, kind: str, **options: object) -> Fault:
        known = {f.name: f for f in dataclasses.fields(cls)}
        converted: dict[str, object] = {}
        for key, value in options.items():
            if key not in known or key == "kind":
                raise ValueError(f"unknown fault option {key!r}")
            if key == "after":
                converted[key] = int(str(value))
            elif key == "seconds":
                converted[key] = float(str(value))
            else:
                converted[key] = str(value)
        return cls(kind, **converted)  # type: ignore[arg-type]

    def header(self) -> str:
        """The `x-fake-fault` header value that selects this fault."""
        parts = [self.kind]
        defaults = Fault(self.kind)
        for name in ("retry_after", "retry_after_ms", "after", "seconds"):
            value = getattr(self, name)
            if value != getattr(defaults, name):
                parts.append(f"{name}={value}")
        return " ".join(parts)
