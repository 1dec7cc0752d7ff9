"""PII detection: `detect_pii(text, entities=None) -> list[Detection]` (kind "pii").

Types (`PII_TYPES`): EMAIL, PHONE, CREDIT_CARD (Luhn), IBAN (mod 97), national ids (US_SSN,
UK_NINO, ES_DNI, FR_NIR, IT_FISCAL_CODE), IP (v4 and v6), MAC, DATE_OF_BIRTH, ADDRESS,
LOCATION, PERSON. Detectors run from the most to the least certain (patterns with check
digits, then dates of birth, addresses, names), and a span taken by one is not reported
again by the next. `entities` restricts the types looked for; the others cost nothing.

Modules by concern: patterns.py (structured types) with validate.py (their checks),
dates.py (dates of birth), places.py (addresses), names.py (people and places in running
text) with gazetteer.py (shipped word lists, see data/SOURCE.md), spans.py (what is taken).
"""

from __future__ import annotations

from collections.abc import Collection

from proctor.guards.base import Detection
from proctor.guards.pii import gazetteer
from proctor.guards.pii.dates import detect_dates_of_birth
from proctor.guards.pii.names import detect_names
from proctor.guards.pii.patterns import PHONE, STRUCTURED_TYPES, detect_structured
from proctor.guards.pii.places import claim_street_lines, detect_addresses
from proctor.guards.pii.spans import Spans

PII_TYPES: frozenset[str] = STRUCTURED_TYPES | {"DATE_OF_BIRTH", "ADDRESS", "LOCATION", "PERSON"}
_NAME_TYPES = frozenset({"PERSON", "LOCATION"})


def scan(text: str, wanted: frozenset[str], words: gazetteer.Gazetteer) -> list[Detection]:
    """`detect_pii` with an explicit gazetteer (the bench scores with and without one)."""
    if not text or not wanted:
        return []
    taken = Spans()
    found = detect_structured(text, wanted, taken) if wanted & STRUCTURED_TYPES else []
    if "DATE_OF_BIRTH" in wanted:
        for date in detect_dates_of_birth(text):
            if not taken.overlaps(date.start, date.end):
                found.append(date)
                taken.add(date.start, date.end)
    if "ADDRESS" in wanted:
        found.extend(detect_addresses(text, taken))
    elif "PHONE" in wanted:
        claim_street_lines(text, taken)  # house numbers ("17151 2450 Crown St") are no phones
    if "PHONE" in wanted:
        found.extend(detect_structured(text, wanted, taken, (PHONE,)))
    if wanted & _NAME_TYPES:
        found.extend(detect_names(text, wanted, taken, words))
    found.sort(key=lambda d: (d.start, -d.end))
    return found


def detect_pii(text: str, entities: Collection[str] | None = None) -> list[Detection]:
    """Personal data in `text`, sorted by start offset; only `entities` when given."""
    wanted = PII_TYPES if entities is None else PII_TYPES & frozenset(entities)
    words = gazetteer.default() if wanted & _NAME_TYPES else gazetteer.EMPTY
    return scan(text, wanted, words)


__all__ = ["PII_TYPES", "detect_pii", "scan"]
