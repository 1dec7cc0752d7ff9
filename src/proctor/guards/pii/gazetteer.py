"""Word lists that name people and places, loaded once on first use.

The lists ship in data/ (built by bench/guards/pii_gazetteer.py; sources and licences in
data/SOURCE.md): US first names (CC0) and surnames (US Census, public domain), and GeoNames
places (cities of 15,000 or more; countries, US states; CC-BY 4.0). Entries are lower-case;
lookups lower-case the word. Words that are ordinary English as often as names ("Will",
"Bath", "Street", "Union") are removed at load time: a detector that fired on them would
flag every other sentence.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Function words, titles, days, months and other capitalised-at-times words that the
# lists contain as a surname or a town somewhere but that are nearly always ordinary words.
COMMON = frozenset(
    """
    a about above across after afterwards again against ago all almost along already also
    although always am among an and another any anyone anything anyway anywhere are around
    as at away back be because become been before being below beside besides between beyond
    both but by can cannot could did do does doing done down during each either else enough
    even ever every everyone everything everywhere except few first for from further had has
    have having he her here hers herself him himself his how however i if in indeed instead
    into is it its itself just last least less many may maybe me meanwhile might mine more
    moreover most mostly much must my myself neither never nevertheless next no nobody none
    nor not nothing now nowhere of off often on once one only onto or other others otherwise
    our ours ourselves out over own perhaps rather same second several she should since so
    some somehow someone something sometimes somewhere still such than that the their them
    themselves then there thereafter therefore these they third this those though through
    throughout thus to together too toward towards two three four five under unless until
    up upon us very via was we well were what whatever when whenever where wherever whether
    which while who whoever whole whom whose why will with within without would yet you
    your yours yourself yourselves yes no ok okay oh hello hi hey dear thanks thank please
    sorry welcome good great best better new old big little long young white black green
    brown gray grey gold silver red blue high low true false today tomorrow yesterday
    mr mrs ms miss dr prof sir madam lord lady king queen prince princess saint st mount
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    street road avenue lane drive court place square park hill bridge station center centre
    city town village county state country north south east west central upper lower
    northern southern eastern western
    union independence victory liberty freedom love peace glory
    bank card account money cash credit debit home house office school church hospital
    mobile reading nice split orange bath ash bay beach cliff field ford forest wood woods
    mill mills rich price cost sale sales bills major marks case hunt law story
    english french german spanish italian american british
    summer winter spring autumn fall christmas easter god jesus
    music art arts life world water fire earth air sun moon star stars
    name date phone fax desk email e-mail website address note answer question subject
    title company personal info information summary description example input output
    step total warning error update tip source user assistant system human bot
    apt suite unit floor box room contact patient customer client attn attention ref
    regards sender recipient author owner re cc bcc
    """.split()
)


@dataclass(frozen=True, slots=True)
class Gazetteer:
    first_names: frozenset[str]
    surnames: frozenset[str]
    places: frozenset[str]  # cities and towns: single- and multi-word names, lower-case
    countries: frozenset[str]  # countries, US states, continents

    def is_first_name(self, word: str) -> bool:
        return word.lower() in self.first_names

    def is_surname(self, word: str) -> bool:
        return word.lower() in self.surnames

    def is_place(self, name: str) -> bool:
        return name.lower() in self.places

    def is_country(self, name: str) -> bool:
        return name.lower() in self.countries


EMPTY = Gazetteer(frozenset(), frozenset(), frozenset(), frozenset())


def _read(name: str) -> frozenset[str]:
    raw = resources.files("proctor.guards.pii").joinpath("data", name).read_bytes()
    words = gzip.decompress(raw).decode("utf-8").split("\n")
    return frozenset(w for w in words if w and w not in COMMON)


@cache
def default() -> Gazetteer:
    """The shipped lists (about 0.05 s and 12 MB the first time; cached after)."""
    return Gazetteer(
        _read("first_names.txt.gz"),
        _read("surnames.txt.gz"),
        _read("places.txt.gz"),
        _read("countries.txt.gz"),
    )
