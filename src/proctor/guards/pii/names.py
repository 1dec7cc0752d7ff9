"""Names of people (PERSON) and places (LOCATION) in running text, without a statistical model.

A candidate is a run of capitalised words ("Faina D. Yefremova", "Donald van der Voet",
"Dąbrowa Górnicza"), with initials and lower-case particles inside. Each run is weighed
for person and for place, from:
- the words before it: "my name is", "Mr.", "Dear", "said" ... for a person; "in", "from",
  "near", "moved to" ... for a place;
- the words after it: "'s", "said", "is from", a speaker's colon for a person; ", Country"
  for a place;
- the gazetteers (gazetteer.py): a first name opening the run, a surname closing it, the
  whole run a known town or country;
- its shape: capitalised words in mid-sentence that are no ordinary word are a name of some
  kind more often than not.
The heavier side wins when it clears a threshold; a run that ends with a company word
("Ltd", "Solutions", "Bank") is left alone (organisations are not personal data). A word
that opens a sentence is capitalised anyway: there the shape counts for nothing. Names
listed together ("Kónya, Becker and Vasquez") share what one of them proved.

One regular expression finds the runs (its first character is an upper-case letter, so
the scan skips the rest quickly); the weighing is a few dictionary lookups per run.
"""

from __future__ import annotations

import re

from proctor.guards.base import Detection
from proctor.guards.pii import gazetteer as gaz
from proctor.guards.pii.spans import Spans

# Upper-case letters spelled out (Latin, Latin-1, Latin Extended-A, Greek, Cyrillic): `re`
# has no \p{Lu}. Latin Extended-A alternates cases, so a run's words are re-checked.
_CAP = r"[A-ZÀ-ÖØ-ÞĀ-ſƁ-ƷǄ-ɏΆ-ΫЀ-Я]"
_LETTERS = r"[^\W\d_]"
_WORD = rf"{_CAP}(?:{_LETTERS}+(?:['\u2019-]{_LETTERS}+)*+|\.)?"
_PARTICLE = (
    r"(?:van|der|den|de|da|di|del|della|degli|dei|von|zu|du|le|la|bin|ibn|al|el|dos|das|ter)"
)
_RUN = re.compile(
    rf"(?<![\w'\u2019-]){_WORD}(?: (?:{_PARTICLE} ){{0,3}}{_WORD}){{0,5}}(?![\w'\u2019-])"
)
_PIECE = re.compile(rf"{_LETTERS}+(?:['\u2019-]{_LETTERS}+)*")
_PARTICLES = frozenset(_PARTICLE[3:-1].split("|"))
_ORG_WORDS = frozenset(
    """
    inc ltd llc llp plc corp co company corporation group holdings international solutions
    systems technologies technology services partners associates agency bank insurance
    consulting labs media networks software industries foundation institute university
    college school hospital clinic orchestra club society union enterprises ventures
    capital fund trust airlines motors energy pharma global incorporated limited gmbh ag sa
    srl bv nv oy ab as weekly times news journal magazine tales street avenue road
    investments force day days week
    centre center
    analyst manager director engineer officer president assistant consultant developer
    specialist coordinator representative lead head chief executive administrator
    """.split()
)
# Rooms and buildings: "Conference Room B", "Terminal 2", "Hall C".
_FACILITIES = frozenset("room hall building floor office lobby terminal gate platform".split())
_DIRECTIONS = ("northern ", "southern ", "eastern ", "western ", "central ", "north ", "south ")


def _phrases(text: str) -> frozenset[str]:
    return frozenset(p.strip() for p in text.split("|"))


# Cues: the last one to four words before a run, lower-cased, without punctuation.
_PERSON_STRONG = _phrases(
    """my name is|name is|name|names|called|call me|calls me|mr|mrs|ms|miss|dr|prof|dear
    |signed|maiden name is|commenter|assistant to|i'm|i am|this is|directed by|starring
    |written by|sung by|speak to|change it to|under|named|said|founder|founders|with|ask
    |contact|meet|email|call|thanks|hi|hello|hey|regards|sincerely|patient|customer|client
    |colleague|friend|wife|husband|son|daughter|mother|father|brother|sister|boss|manager"""
)
_PERSON_WEAK = _phrases("by|to|and|from|for|gave|add|me|is|was|that|of")
_PLACE_STRONG = _phrases(
    """in|near|visit|visiting|visited|moved to|moved here from|moved from|live in|lives in
    |lived in|based in|city of|trip to|travel to|travelling to|traveling to|fly to|flying to
    |arrived at|arrived in|returned to|welcome to|originally from|born in|grew up in
    |streets of|headed to|going to|way to"""
)
_PLACE_WEAK = _phrases("from|at|to|serving|around|across|through|of")
_CUE_WORD = re.compile(r"[\w']+")
_ABBR = frozenset("mr mrs ms dr prof st jr sr".split())


def _abbreviation(text: str) -> bool:
    """Whether `text` (up to a full stop) ends with a title or an initial: "Mrs", "D"."""
    word = text[-5:].rsplit(" ", 1)[-1]
    return word.lower() in _ABBR or (len(word) == 1 and word.isupper())


def _cue_phrases(before: str) -> tuple[str, ...]:
    """The last one to four words before a run, joined ("is", "name is", "my name is"...);
    a sentence end stops them."""
    tail = before[-40:]
    if tail.rstrip().lower().endswith("name?"):
        return ("name",)  # "What's your name? Sölvi Salómonsson"
    for stop in ".!?\n":
        cut = tail.rfind(stop)
        if cut >= 0 and not (stop == "." and _abbreviation(tail[:cut])):
            tail = tail[cut + 1 :]  # "Mr." and "Dr." are no sentence end
    words = _CUE_WORD.findall(tail.lower())[-4:]
    return tuple(" ".join(words[i:]) for i in range(len(words)))


_PERSON_AFTER = re.compile(
    r"(?:,? (?:said|says|asked|told|wrote|listed|spent|lives|lived|had|has|was"
    r"|is (?:from|so|very)|the|who|and (?:his|her)|just|gave|had given|can|will)\b"
    r"|, (?:can|could|would|will|please)\b)"
)
_SPEAKER = re.compile(r": \S")  # "Nicole: Remember me" at the start of a line
_PLACE_AFTER = re.compile(r",\s*[A-Z]|\s+(?:city|province|region|area)\b")
_SENTENCE_END = frozenset('.!?\n"“(')
_BEFORE = 40  # characters of left context read for cues
_AFTER = 20
_THRESHOLD = 1.5
_APOSTROPHES = "'\u2019"
_POSSESSIVE = re.compile(r"['\u2019]s\b")
_QUOTES = " '\"\u201c\u2018"


def _weigh(
    text: str,
    start: int,
    end: int,
    words: list[str],
    opens: bool,
    g: gaz.Gazetteer,
    contact: bool = False,
) -> tuple[float, float]:
    """(person, place) evidence for the run `text[start:end]` made of `words`; `opens`:
    its first word is capitalised for another reason (a sentence or a title starts)."""
    if words[-1].lower() in _ORG_WORDS or not _FACILITIES.isdisjoint(w.lower() for w in words):
        return 0.0, 0.0
    cues = _cue_phrases(text[max(0, start - _BEFORE) : start])
    after = text[end : end + _AFTER]
    person = _person_weight(text, (start, end), words, opens, g, cues, after, contact)
    return person, _place_weight(words, g, cues, after)


def _person_weight(
    text: str,
    span: tuple[int, int],
    words: list[str],
    opens: bool,
    g: gaz.Gazetteer,
    cues: tuple[str, ...],
    after: str,
    contact: bool,
) -> float:
    start, end = span
    person = 0.0
    if not _PERSON_STRONG.isdisjoint(cues):
        person += 2.0
    elif not _PERSON_WEAK.isdisjoint(cues):
        person += 0.25
    if after[:1] in _APOSTROPHES and after[1:2] in ("s", " "):
        person += 1.0 if len(words) > 1 else 0.75  # possessive: people more than places
    elif _PERSON_AFTER.match(after):
        person += 1.0
    elif opens and _SPEAKER.match(after) and (start == 0 or text[start - 1] == "\n"):
        person += 1.5
    if g.is_first_name(words[0]):
        person += 1.5 if len(words) > 1 else 1.0
    if len(words) > 1 and g.is_surname(words[-1]):
        person += 0.75
    if any(len(w) == 1 for w in words[1:-1]):
        person += 0.5  # "Faina D. Yefremova": an initial between two words
    # A verb after a sentence's first word ("Alvir spent", "Luiza is from") lifts it as if
    # it stood mid-sentence.
    verb = _PERSON_AFTER.match(after) is not None
    if _known_place(words, g):
        return person  # the shape says "a name"; the gazetteer already says which kind
    return person + _shape_weight(text, start, end, words, opens and not verb, contact)


def _shape_weight(
    text: str, start: int, end: int, words: list[str], opens: bool, contact: bool
) -> float:
    """Capitalised words that are no ordinary word: a name of some kind, more likely a
    person's in mid-sentence or alone on a line (a signature, an address block's first,
    all the more when `contact` details follow)."""
    if any(w.lower() in gaz.COMMON for w in words):
        return 0.0
    weight = 0.0
    if not opens:
        weight += 0.75 if len(words) > 1 else 0.5
    elif len(words) > 1:
        weight += 0.5
    if len(words) > 1 and _alone_on_line(text, start, end):
        weight += 1.25 if contact else 0.75
    return weight


def _known_place(words: list[str], g: gaz.Gazetteer) -> bool:
    """A country, or a town of several words; one-word towns are also first names too often
    ("Florence", "Austin", "Kelly") to tell a person's name from them."""
    name = " ".join(words)
    return g.is_country(name) or (len(words) > 1 and g.is_place(name))


def _place_weight(words: list[str], g: gaz.Gazetteer, cues: tuple[str, ...], after: str) -> float:
    name = " ".join(words)
    lowered = name.lower()
    for prefix in _DIRECTIONS:
        if lowered.startswith(prefix):
            name = name[len(prefix) :]
    place = 0.0
    if g.is_country(name):
        place += 2.0
    elif g.is_place(name):
        place += 1.0
    if not _PLACE_STRONG.isdisjoint(cues):
        place += 1.5
    elif not _PLACE_WEAK.isdisjoint(cues):
        place += 0.5
    if _PLACE_AFTER.match(after):
        place += 0.5
    if name.isupper() and len(name) >= 4:
        place += 0.5  # a town in capitals, the postal way
    return place


def _alone_on_line(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    return text[end : end + 1] in ("\n", "") and not text[line_start:start].strip(" ?*•·-")


def _words(run: str) -> list[str]:
    return [w for w in _PIECE.findall(run) if w.lower() not in _PARTICLES]


def detect_names(
    text: str, wanted: frozenset[str], taken: Spans, g: gaz.Gazetteer
) -> list[Detection]:
    """PERSON and LOCATION runs in `text` (those of the two in `wanted`)."""
    if text.islower():
        return _lower_case_names(text, wanted, taken, g)
    scored: list[tuple[int, int, float, float]] = []
    for match in _RUN.finditer(text):
        start, end = match.span()
        if text[end - 1] == "." and end - start > 2 and text[end - 3] != " ":
            end -= 1  # "Smith." ends a sentence; "D." is an initial
        possessive = _POSSESSIVE.search(text, start, end)
        if possessive is not None and possessive.start() - start > 1:
            end = possessive.start()  # "Szczepańska's [Tales]": a cue, not part of the name
        if taken and taken.overlaps(start, end):
            continue
        words = _words(text[start:end])
        if not words or not words[0][0].isupper():
            continue
        before = text[max(0, start - 3) : start].rstrip(_QUOTES)
        opens = not before or (before[-1] in _SENTENCE_END and not _abbreviation(before))
        if len(words) == 1 and not _single_word_may_name(text, end, words[0], opens, g):
            continue
        while words and words[0].lower() in gaz.COMMON and not g.is_country(" ".join(words)):
            # "The Exversion Orchestra", "Please Mr. Smith": the first word is not the name.
            start = text.index(words[1], start + len(words[0])) if len(words) > 1 else end
            words, opens = words[1:], True
        if not words:
            continue
        # Contact details (already found: an address, a phone) right below a name line.
        contact = bool(taken) and taken.starts_within(end, end + 200)
        person, place = _weigh(text, start, end, words, opens, g, contact)
        scored.append((start, end, person, place))
    return _decide(text, scored, wanted)


def _single_word_may_name(text: str, end: int, word: str, opens: bool, g: gaz.Gazetteer) -> bool:
    """Most capitalised single words are no name ("The", "Write", "ATM"): a cheap test
    before the weighing. One that opens a sentence needs a gazetteer entry or a speaker's
    colon, as nothing else could carry it over the threshold."""
    if word.lower() in gaz.COMMON or (word.isupper() and len(word) < 4):
        return False  # an ordinary word; ATM, USA, CEO: acronyms
    if not opens or text[end : end + 1] == ":" or _PERSON_AFTER.match(text, end):
        return True
    return g.is_first_name(word) or g.is_place(word) or g.is_country(word)


def _decide(
    text: str, scored: list[tuple[int, int, float, float]], wanted: frozenset[str]
) -> list[Detection]:
    found: list[Detection] = []
    people = {
        i
        for i, (_, _, person, place) in enumerate(scored)
        if person >= _THRESHOLD and person > place
    }
    # Names listed together share the evidence: "founders: Kónya, Becker and Vasquez".
    for i in sorted(people):
        for j in (i - 1, i + 1):
            if 0 <= j < len(scored) and j not in people:
                a, b = sorted((i, j))
                gap = text[scored[a][1] : scored[b][0]]
                if gap in (", ", " and ", ", and ", " & ") and scored[j][2] >= scored[j][3]:
                    people.add(j)
    for i, (start, end, person, place) in enumerate(scored):
        if i in people:
            if "PERSON" in wanted:
                score = min(1.0, 0.4 + person / 5)
                found.append(Detection("pii", "PERSON", start, end, score, "person name"))
        elif place >= _THRESHOLD and place >= person and "LOCATION" in wanted:
            score = min(1.0, 0.4 + place / 5)
            found.append(Detection("pii", "LOCATION", start, end, score, "place name"))
    return found


_LOWER_WORD = re.compile(rf"(?<![\w'\u2019-]){_LETTERS}+(?:['\u2019-]{_LETTERS}+)*+")


def _lower_case_names(
    text: str, wanted: frozenset[str], taken: Spans, g: gaz.Gazetteer
) -> list[Detection]:
    """Names in a text written all in lower case, where only the gazetteers tell: a first
    name followed by a surname ("olga krylova"), a first name or a town after a strong cue
    ("my name is nina", "moved here from kiel"), a country anywhere."""
    found: list[Detection] = []
    words = [m for m in _LOWER_WORD.finditer(text) if m.group() not in gaz.COMMON]
    i = 0
    while i < len(words):
        word, start = words[i].group(), words[i].start()
        end, kind = words[i].end(), ""
        if taken.overlaps(start, end):
            i += 1
            continue
        cues = _cue_phrases(text[max(0, start - _BEFORE) : start])
        if g.is_first_name(word):
            j = i + 1
            if j < len(words) and len(words[j].group()) == 1 and words[j].start() - end <= 2:
                j += 1  # an initial: "benjamin a seiler"
            near = j < len(words) and words[j].start() - words[j - 1].end() <= 2
            if near and g.is_surname(words[j].group()):
                kind, end, i = "PERSON", words[j].end(), j
            elif not _PERSON_STRONG.isdisjoint(cues):
                kind = "PERSON"
        if not kind:
            pair = f"{word} {words[i + 1].group()}" if i + 1 < len(words) else ""
            if pair and g.is_country(pair) and words[i + 1].start() - end == 1:
                kind, end, i = "LOCATION", words[i + 1].end(), i + 1
            elif g.is_country(word) or (g.is_place(word) and not _PLACE_STRONG.isdisjoint(cues)):
                kind = "LOCATION"
        if kind and kind in wanted:
            reason = "person name" if kind == "PERSON" else "place name"
            found.append(Detection("pii", kind, start, end, 0.6, reason))
        i += 1
    return found
