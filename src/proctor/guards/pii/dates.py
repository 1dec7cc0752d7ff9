"""Dates of birth: a date written shortly after a birth cue ("born on", "DOB:", "date of
birth", "birthday"; a few other languages' words too).

A date alone is not personal data (a meeting, an invoice); one tied to a birth is. The cue
must come at most `_REACH` characters before the date, with no sentence end in between.
"""

from __future__ import annotations

import re

from proctor.guards.base import Detection

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = re.compile(
    r"(?i)(?<![\w/.-])(?:"
    r"\d{4}([./-])\d{1,2}\1\d{1,2}"  # 1965-04-22
    r"|\d{1,2}([./-])\d{1,2}\2(?:\d{4}|\d{2})"  # 22.04.1965, 4/22/65
    rf"|\d{{1,2}}(?:st|nd|rd|th)?(?: of)? {_MONTHS},? \d{{4}}"  # 22 April 1965
    rf"|{_MONTHS} \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}"  # April 22, 1965
    r")(?![\w/-]|\.\d)"
)
_CUE = re.compile(
    r"(?i)\b(?:born|birth\s?(?:date|day)|date\s+of\s+birth|d\.?o\.?b\b\.?|b-?day"
    r"|n[ée]e?\s+le|geboren|fecha\s+de\s+nacimiento|nacid[oa]|data\s+di\s+nascita|nato|nata)"
)
_REACH = 40
_STOP = re.compile(r"[.!?]\s+(?=[A-Z])|\n\n")


def _digit_date_ok(value: str) -> bool:
    numbers = [int(n) for n in re.findall(r"\d+", value)]
    if len(numbers) != 3:
        return True  # a written month: the pattern already bounds it
    if numbers[0] > 31:  # year first
        return 1 <= numbers[1] <= 12 and 1 <= numbers[2] <= 31
    a, b = numbers[0], numbers[1]
    return 1 <= min(a, b) <= 12 and max(a, b) <= 31


# Substrings one of which every cue contains: most texts are turned away by these alone.
_CUE_HINTS = (
    "born",
    "birth",
    "dob",
    "d.o.b",
    "bday",
    "b-day",
    "né",
    "ne le",
    "nee le",
    "geboren",
    "nacid",
    "nacimiento",
    "nascita",
    "nato",
    "nata",
)


def detect_dates_of_birth(text: str) -> list[Detection]:
    found: list[Detection] = []
    lowered = text.lower()
    if not any(hint in lowered for hint in _CUE_HINTS):
        return found
    for cue in _CUE.finditer(text):
        window_end = min(len(text), cue.end() + _REACH)
        stop = _STOP.search(text, cue.end(), window_end)
        if stop is not None:
            window_end = stop.start() + 1
        date = _DATE.search(text, cue.end(), window_end)
        if date is None or not _digit_date_ok(date.group(0)):
            continue
        if found and found[-1].start == date.start():
            continue  # two cues ("born ... birthday") before the same date
        found.append(Detection("pii", "DATE_OF_BIRTH", date.start(), date.end(), 0.9, "birth cue"))
    return found
