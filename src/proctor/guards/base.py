"""What every detector returns, so that the guard stages and `proctor guard scan` treat them
alike.

A detector is a plain function from text to detections. It never raises on odd input (empty,
huge, binary-looking, mixed scripts), never does I/O, and loads whatever it needs (patterns,
model weights) once at import or on first use, not per call. Offsets are indices into the
text it was given (Python `str` indices), `start < end`, and a detection that concerns the
whole text (a classifier's verdict) spans `0..len(text)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

# The families `proctor guard scan --json` reports (`kind`); DESIGN.md and the issue fix them.
Kind = Literal["injection", "pii", "secret", "toxicity", "leak", "topic", "invisible"]


@dataclass(frozen=True, slots=True)
class Detection:
    kind: Kind
    # What exactly: EMAIL, PHONE, CREDIT_CARD, IBAN, US_SSN, IP, MAC, PERSON, ADDRESS,
    # DATE_OF_BIRTH... for pii; the rule or family for the others (JAILBREAK, AWS_KEY, BIDI...).
    type: str
    start: int
    end: int
    # Confidence in [0, 1]; 1.0 for a validated pattern (a Luhn-checked card number).
    score: float = 1.0
    # Why, in words, without the sensitive value itself ("ignore-previous-instructions").
    reason: str | None = None


Detector = Callable[[str], Sequence[Detection]]
