"""Postal addresses (ADDRESS): a street line found by its shape, then the lines that follow
it as long as they read like the rest of an address (flat, city, state, country, postcode).

A street line has a number in it nearly always, so the search starts from each number in
the text (prose has few) and reads around it:
- forward, a house number, words and a street-type word: "22 Pollen Crescent", "4624 St
  Jean Baptiste St"; or a number, words and a number, the European order after a building
  number: "6750 Koskikatu 25", "56 San Andrés 70"; or two numbers and capitalised words:
  "9816 214 Pavlou Drandaki";
- backward, a street-type word first, then words and the number: "Via Santa Teresa degli
  Scalzi 71", "ul. Zuchów 65", "Λεωφόρος Αλεξάνδρου 189"; one word ending in a street-type
  suffix: "Ziegelgasse 19", "Þorsteinsgata 63"; a post box: "P.O. Box 101", "PSC 7004, Box
  8380".
Without a number: a named street ("on Marina Fort Street"), a military address ("USS Dam\nFPO
AE 94560"), and whatever follows an address cue ("the corner of X and Y").
Every pattern is bounded (a few words) and anchored, so linear in the text.
"""

from __future__ import annotations

import re

from proctor.guards.base import Detection
from proctor.guards.pii.spans import Spans

_SUFFIX_WORDS = (
    "street|st|avenue|ave|av|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|place|pl|square"
    "|sq|terrace|ter|way|crescent|cres|close|parkway|pkwy|highway|hwy|circle|cir|trail|trl"
    "|path|alley|row|walk|grove|gardens|gdns|hill|hills|flat|flats|lodge|mews|park|pass|ridge"
    "|view|vista|point|plaza|heights|loop|crossing|crossroad|junction|mall|manor|meadow"
    "|meadows|mill|mills|port|shore|shores|spring|springs|summit|valley|village|green|fork"
    "|field|fields|estates?|expressway|freeway|turnpike|landing|bypass|causeway|center"
    "|centre|common|creek|dale|falls|ferry|forge|fort|harbor|harbour|haven|island|isle|knoll"
    "|lake|lakes|mountain|orchard|oval|pike|pines|plains|ranch|rapids|route|stream|track"
    "|trace|tunnel|viaduct|wells?|cove|burg|bridge|brook|camp|cape|corner|corners|crest|curve"
    "|gateway|glen|hollow|inlet|keys?|lock|locks|neck|overpass|prairie|radial|ramp|rest"
    "|shoal|skyway|squares|station|throughway|vale|ville|parade|broadway|rise|wharf|quay"
    "|grange|gate|yard|str"
)
_PREFIX_WORDS = (
    r"via|viale|piazza|piazzale|corso|largo|vicolo|strada|rue|avenue|av\.|avda\.|avenida"
    r"|calle|c/|carrer|paseo|camino|ronda|plaza|pasaje|travesía|rua|rúa|r\.?|travessa|praça"
    r"|alameda|estrada|ul\.|ulica|al\.|aleja|plac|os\.|osiedle|str\.|calea|bulevardul|bd\."
    r"|boulevard|chemin|allée|impasse|place|quai|cours|route|trg|οδός|λεωφόρος|πλατεία"
    r"|улица|ул\.|проспект|пр\.|переулок|пер\."
)
_COMPOUND_SUFFIXES = (
    "straße",
    "strasse",
    "str.",
    "gasse",
    "weg",
    "allee",
    "platz",
    "ring",
    "damm",
    "ufer",
    "steig",
    "pfad",
    "markt",
    "graben",
    "gata",
    "gatan",
    "gaten",
    "vägen",
    "väg",
    "veien",
    "vegen",
    "vei",
    "vej",
    "gade",
    "stræde",
    "allé",
    "katu",
    "tie",
    "kuja",
    "polku",
    "tori",
    "raitti",
    "laan",
    "straat",
    "plein",
    "gracht",
    "kade",
    "dijk",
    "steeg",
    "singel",
    "plaats",
    "steenweg",
    "út",
    "útja",
    "utca",
    "tér",
    "körút",
    "köz",
    "sor",
    "bakken",
    "bakke",
    "svingen",
    "stien",
    "stigen",
    "vegur",
    "braut",
    "stígur",
    "tún",
    "gränd",
    "stig",
    "ulica",
    "iela",
    "gatvė",
    "tee",
    "puiestee",
    "põik",
    "sokak",
    "soka\u011f\u0131",
    "caddesi",
    "bulvar\u0131",
    "ulice",
    "cesta",
    "trg",
)
_NUM = r"[0-9]{1,5}[A-Za-z]?(?:[/-][0-9]{1,4}[A-Za-z]?)?"
# Upper-case letters spelled out, since `re` has no \p{Lu}.
_CAP = r"[A-ZÀ-ÖØ-ÞĀ-ſΆ-ΫЀ-Я]"
_CAPWORD = rf"{_CAP}[\w'\u2019.-]{{0,30}}"
_WORD = r"(?:[^\W\d]|∆)[\w'\u2019.∆-]{0,30}"  # ∆: a Greek Delta typed as the math sign
_FUNCTION_WORDS = frozenset("of the and in on to for a an at by with from".split())

# A number that may start or end a street line; the look-behind follows the first digit so
# the scan can skip to digits.
_NUMBER = re.compile(
    r"[0-9](?<![\w.,-][0-9])[0-9]{0,4}[A-Za-z]?(?:[/-][0-9]{1,4}[A-Za-z]?)?(?![\w-]|[.,][0-9])"
)
_FORWARD = re.compile(
    "|".join(
        (
            rf"{_NUM}(?: [0-9]{{1,5}})?(?: {_WORD}){{1,5}}? (?i:{_SUFFIX_WORDS})\b\.?",
            rf"{_NUM}(?: [0-9]{{1,5}})? (?i:{_PREFIX_WORDS})(?: {_WORD}){{1,5}}? {_NUM}\b",
            rf"{_NUM}(?: [0-9]{{1,5}})? {_WORD}(?: {_WORD}){{0,4}}? {_NUM}(?![\w,.]\d)\b",
            rf"{_NUM} [0-9]{{1,5}} {_CAPWORD}(?: {_CAPWORD}){{0,3}}",
        )
    )
)
_PREFIX_SET = frozenset(w.replace("\\", "") for w in _PREFIX_WORDS.split("|")) | {"r"}
_BOXES = frozenset(("box", "psc", "unit"))
_LOOK_BACK = 6  # words before a number searched for a street-type word
_PHONE_BEFORE = frozenset("0123456789)")
# In a text all in lower case the capitals that mark a street's name are gone: a street
# line then needs one of these just before it ("my address is 12 rue x 3").
_LOWER_CUE = re.compile(r"(?:\b(?:at|to|on|address(?: is)?|in|from)|[:\n]) ?$")
_BUILDING = re.compile(r"(?:(?<![\w.,-])[0-9]{1,5} ){1,2}$")
_NAMED_STREET = re.compile(
    rf"(?<![\w.-]){_CAPWORD}(?: {_CAPWORD}){{0,2}}(?= (?:Street|Road|Avenue|Lane|Drive"
    r"|Boulevard|Crescent|Terrace)\b)"
)
_MILITARY = re.compile(
    r"(?<![\w.-])(?i:us[nc]?[sv]|usns|unit|psc) [\w' ,-]{1,40}\n\s?(?i:[afd]po) (?i:a[aep])"
    r" [0-9]{5}\b|(?<![\w.-])(?i:[afd]po) (?i:a[aep]) [0-9]{5}\b"
)
_CUES = ("address", "live", "located", "enter on", "send", "ship", "deliver", "corner of")
_CUED = re.compile(
    r"(?i:\b(?:my address is|address(?: is)?:?|lives? (?:on|at)|located at|enter on"
    r"|send (?:it|a new one|them) to|ship (?:it )?to|deliver (?:it )?to|the corner of))"
    rf" ((?:{_WORD} ){{1,5}}?{_NUM}\b|the corner of [^\n.?!]{{3,60}}|[^\n.?!]{{3,60}}(?=[.?!]|$))"
)
# What may follow a street line, one segment at a time: a flat, a city, a state, a country,
# a postcode. A segment starts after a comma or a line break (or a space, for a flat).
_TAIL = re.compile(
    r"[ ]?(?:,[ ]*|\n[ ]*\n?(?:[?*•·-]{1,3} )?[ ]*,?[ ]*|[ ])"
    r"((?i:apt\.?|apartment|suite|ste\.?|unit|floor|fl\.?|room|box|bldg\.?) ?#?[0-9]{1,6}\w?"
    rf"|{_WORD}(?:[ -]{_WORD}){{0,4}}(?: \([\w ]{{1,20}}\))?(?: [0-9]{{4,6}}"
    r"| [A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}"
    r"| [A-Z][0-9][A-Z] ?[0-9][A-Z][0-9])?"
    r"|[A-Z]{2,3}(?: [0-9]{5}(?:-[0-9]{4})?)?|[0-9]{4,6}(?:-[0-9]{4})?"
    rf"|[0-9]{{4,6}} {_CAPWORD}(?: {_CAPWORD}){{0,2}}"  # 10115 Berlin
    r"|[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2})"  # a British postcode: NW1 6XE
    r"(?=[ ]?[\n,.?!;)]|$|[ ][a-z])"
)
_FLAT = re.compile(r"(?i:apt\.?|apartment|suite|ste\.?|unit|floor|fl\.?|room|box|bldg\.?) ")
_MAX_TAIL = 6


def _tail_ok(segment: str, joint: str, lower_text: bool) -> bool:
    """Whether a segment after a street line is more of the address."""
    if _FLAT.match(segment) or segment[:1].isdigit():
        return True
    words = segment.split()
    if any(w.lower() in _FUNCTION_WORDS for w in words) and not segment.isupper():
        return False  # "It was on this street": prose again
    if "\n" in joint or "," in joint:
        return segment[:1].isupper() or lower_text
    # Same line, no comma: capitalised words only ("... Suite 690 WIEN Brazil").
    return all(w[:1].isupper() for w in words)


def _extend(text: str, end: int, lower_text: bool) -> int:
    """Past the flat, city, state, country and postcode lines that follow a street line."""
    for _ in range(_MAX_TAIL):
        match = _TAIL.match(text, end)
        if match is None:
            break
        segment = match.group(1)
        joint = match.group(0)[: match.start(1) - match.start()]
        if not _tail_ok(segment, joint, lower_text):
            break
        end = match.end()
    return end


def _backward(text: str, start: int, lower_text: bool) -> int | None:
    """Where the street line ending with the number at `start` begins, if one does: "Via
    Santa Teresa degli Scalzi 71", "Ziegelgasse 19", "P.O. Box 101"."""
    if start < 2 or text[start - 1] != " ":
        return None
    line = text[max(0, start - 80) : start - 1]
    line = line[line.rfind("\n") + 1 :]
    words = line.split(" ")[-_LOOK_BACK:]
    last = words[-1]
    lowered = last.lower()
    if lowered in _BOXES:  # PSC 7004, Box 8380 / P.O. Box 101
        begin = start - 1 - len(last)
        if len(words) > 1 and words[-2].lower().rstrip(".") in ("p.o", "po"):
            begin -= len(words[-2]) + 1
        return begin
    if last[:1].isalpha() and lowered.endswith(_COMPOUND_SUFFIXES):
        return start - 1 - len(last)  # Ziegelgasse 19
    for k in range(2, len(words) + 1):
        if words[-k].lower() in _PREFIX_SET:
            rest = words[-k + 1 :]
            if any(w.lower() in _FUNCTION_WORDS or not w[:1].isalpha() for w in rest):
                return None
            if not lower_text and not any(w[:1].isupper() for w in rest):
                return None  # "place your order 5": a street's name is capitalised
            return start - 1 - len(" ".join(words[-k:]))
    return None


def _forward_ok(text: str, start: int, line: str, lower_text: bool) -> bool:
    words = line.split()
    if any(w.lower() in _FUNCTION_WORDS for w in words):
        return False  # "5 Musicians Of The 70s", "Article 50 of the Treaty": prose
    if any(w[:1].isupper() for w in words[1:]):
        return True
    return lower_text and _LOWER_CUE.search(text, max(0, start - 30), start) is not None


def _street_lines(text: str, lowered: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    lower_text = lowered == text
    for number in _NUMBER.finditer(text):
        start, end = number.span()
        if start >= 2 and text[start - 1] in " -" and text[start - 2] in _PHONE_BEFORE:
            continue  # the second group of "17151 2450 ..." or of "(555) 123-4567"
        forward = _FORWARD.match(text, start)
        if forward is not None and _forward_ok(text, start, forward.group(), lower_text):
            spans.append(forward.span())
            continue
        begin = _backward(text, start, lower_text)
        if begin is not None:
            building = _BUILDING.search(text, max(0, begin - 14), begin)
            spans.append((building.start() if building else begin, end))
    return spans


def claim_street_lines(text: str, taken: Spans) -> None:
    """Adds the street lines of `text` to `taken` without reporting them: when ADDRESS is
    not asked for, a house number pair ("17151 2450 Crown St") must still not be a phone."""
    if any(c in text for c in "0123456789"):
        for start, end in _street_lines(text, text.lower()):
            taken.add(start, end)


def _cued_ok(value: str) -> bool:
    """What follows "send it to" is an address only if it reads like one, not like "Dr.
    Anna Müller at ..." (the corner of two streets has its "and")."""
    if value.lower().startswith("the corner of"):
        return True
    return not any(w.lower() in _FUNCTION_WORDS for w in value.split())


def detect_addresses(text: str, taken: Spans) -> list[Detection]:
    lowered = text.lower()
    spans = _street_lines(text, lowered) if any(c in text for c in "0123456789") else []
    if "Street" in text or "Road" in text or "Avenue" in text or "Lane" in text:
        spans.extend(m.span() for m in _NAMED_STREET.finditer(text))
    if "po a" in lowered:
        spans.extend(m.span() for m in _MILITARY.finditer(text))
    if any(cue in lowered for cue in _CUES):
        spans.extend(m.span(1) for m in _CUED.finditer(text) if _cued_ok(m.group(1)))
    if not spans:
        return []
    spans.sort()
    lower_text = lowered == text
    found: list[Detection] = []
    for start, end in spans:
        end = _extend(text, end, lower_text)
        if text[end - 1] in ".," and len(text[start:end].rsplit(None, 1)[-1]) > 4:
            end -= 1  # "... 10115 Berlin." ends a sentence; "130 St." keeps its full stop
        if found and start <= found[-1].end:  # overlapping candidates: one address
            start = found[-1].start
            end = max(end, found.pop().end)
        if taken.overlaps(start, end):
            continue
        found.append(Detection("pii", "ADDRESS", start, end, 0.8, "street address"))
    for detection in found:
        taken.add(detection.start, detection.end)
    return found
