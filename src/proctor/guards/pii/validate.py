"""Checks that confirm a candidate found by a pattern: check digits, ranges, shapes.

A pattern alone would take every 16-digit order number for a card and every `1.2.3.4`
version for an IP; each check here rejects what cannot be the thing named. All are plain
functions over the matched text, cheap (no allocation beyond a few small strings), and never
raise on odd input.
"""

from __future__ import annotations

import ipaddress
import re

import phonenumbers
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale

_SEPARATORS = re.compile(r"[ .-]")


def digits_of(candidate: str) -> str:
    return _SEPARATORS.sub("", candidate)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def card_ok(candidate: str) -> bool:
    """12 to 19 digits (Maestro goes down to 12), not all the same digit, Luhn-valid."""
    digits = re.sub(r"[ -]", "", candidate)
    return 12 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits)


def iban_ok(candidate: str) -> bool:
    """ISO 13616: two letters, two check digits, up to 30 alphanumerics; mod 97 == 1."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    if not compact.isascii() or not compact.isalnum():
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def ssn_ok(candidate: str) -> bool:
    """US SSN: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    digits = re.sub(r"[ -]", "", candidate)
    if len(digits) != 9 or not digits.isdigit():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def ipv6_ok(candidate: str) -> bool:
    if len(candidate) < 6:  # "::1", "a::b": too short to be worth a label, often code
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def ipv4_ok(candidate: str) -> bool:
    """Four numbers of 0 to 255 without leading zeros (a version 1.02.3.4 is not one)."""
    parts = candidate.split(".")
    return len(parts) == 4 and all(
        p.isdigit() and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts
    )


def mac_ok(candidate: str) -> bool:
    """Not all zeros / all ones (placeholders in docs and configs, no one's device)."""
    compact = digits_of(candidate.replace(":", "")).lower()
    return compact not in ("000000000000", "ffffffffffff")


# UK National Insurance number: no check digit, but a strict shape (HMRC's rules): the
# first letter is not D, F, I, Q, U or V, the second not D, F, I, O, Q, U or V, some
# prefixes are never issued, and the suffix is A to D.
_NINO = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]")
_NINO_NEVER = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def uk_nino_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    return _NINO.fullmatch(compact) is not None and compact[:2] not in _NINO_NEVER


def es_dni_ok(candidate: str) -> bool:
    """Spanish DNI (8 digits and a check letter) or NIE (X/Y/Z, 7 digits, check letter)."""
    compact = candidate.replace("-", "").replace(" ", "").upper()
    return bool(dni.is_valid(compact) or nie.is_valid(compact))


def fr_nir_ok(candidate: str) -> bool:
    """French social security number: 13 characters and a 2-digit mod 97 key."""
    return bool(nir.is_valid(candidate))


def it_fiscal_code_ok(candidate: str) -> bool:
    return bool(codicefiscale.is_valid(candidate.upper()))


_DATE = re.compile(r"(\d{4})([./-])(\d{1,2})\2(\d{1,2})|(\d{1,2})([./-])(\d{1,2})\6(\d{4}|\d{2})\b")


def _is_date(text: str) -> bool:
    """Starts with 2024-01-15 or 15.01.2024 / 01/15/24 (day and month in range)."""
    match = _DATE.match(text)
    if match is None or text[match.end() : match.end() + 1] not in ("", " ", "T"):
        return False  # more groups follow: 02.27.96.63.08 is a phone number
    if match.group(1):
        month, day = int(match.group(3)), int(match.group(4))
        return 1 <= month <= 12 and 1 <= day <= 31
    a, b = int(match.group(5)), int(match.group(7))
    return 1 <= min(a, b) <= 12 and max(a, b) <= 31


_PHONE_GROUPS = re.compile(r"[0-9]+")


def _possible_international(body: str) -> bool:
    try:
        number = phonenumbers.parse(body, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(number))


_EXTENSION = re.compile(r"\s*(?:x|ext\.?|#)\s*\d")


def phone_ok(candidate: str) -> bool:
    """A phone number's shape: 7 to 15 digits in groups, not a date, not a plain count.

    A number with a `+` country code is checked against that country's numbering plan
    (phonenumbers: a country code that exists, a length possible there). Numbers written
    the way each country writes them at home (`0490 75 40 81`, `(08) 8747 6301`, `451 5986`)
    carry no country code, so no plan can confirm them without guessing the country (which
    bench/guards/pii.py measures: PhoneNumberMatcher finds 12 to 63% of the data set's
    numbers, or all at precision 0.15 with its loosest setting); the shape rules out what is
    clearly something else (dates, ranges, decimals, thousands, versions).
    """
    body = _EXTENSION.split(candidate, maxsplit=1)[0]
    body = body.replace("(0)", "")
    if _is_date(body):  # and a date followed by a time: 2024-01-15 10:30
        return False
    groups = _PHONE_GROUPS.findall(body)
    digits = sum(len(g) for g in groups)
    if not 7 <= digits <= 15:
        return False
    international = body.startswith(("+", "00"))
    if body.startswith("+") and not _possible_international(body):
        return False
    if len(groups) == 1:  # no separators at all: only a full national or + number
        return international or digits == 10
    if len(groups) == 2 and (
        all(len(g) == 4 and 1900 <= int(g) <= 2100 for g in groups)
        or ("-" in body and all(g.endswith("0") for g in groups))
        or "." in body
    ):
        return False  # a range (1990-2000, 700-1000 calories) or a decimal (10.48550)
    if not international and len(groups[0]) == 1 and not (groups[0] == "1" and digits == 11):
        return False  # "1 000 000", "3 500 200": counts, not numbers to call
    if "." in body and (
        (len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:]))
        or any(len(g) == 1 for g in groups)
    ):
        return False  # "1.234.567": thousands the European way; "10.0.19041.1": a version
    if [len(g) for g in groups] == [3, 2, 4] and "-" in body:
        return False  # an SSN's shape (one that failed the SSN check), not a phone's
    return max(len(g) for g in groups) <= 10
