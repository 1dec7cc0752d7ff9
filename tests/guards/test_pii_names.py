"""People, places and postal addresses: found from cues, shapes and the shipped gazetteers;
capitalised ordinary words, organisations and prose left alone."""

from __future__ import annotations

import pytest

from proctor.guards.pii import PII_TYPES, detect_pii, gazetteer, scan


def found(text: str, kind: str) -> list[str]:
    return [text[d.start : d.end] for d in detect_pii(text) if d.type == kind]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("My name is Rubija Liberšar", "Rubija Liberšar"),
        ("Hello, this is Dr. Kent Jaworski. Who are you?", "Kent Jaworski"),
        ("Please change it to Soib K. Kishiev", "Soib K. Kishiev"),
        ("Yesterday I had lunch with Donald van der Voet.", "Donald van der Voet"),
        ("Dear Sarah, thanks for the update.", "Sarah"),
        ("I forwarded it to Jennifer Morrison last week.", "Jennifer Morrison"),
        ("Wisława Szczepańska's book came out.", "Wisława Szczepańska"),
        ("Krisztián Szöllösy said the plan works.", "Krisztián Szöllösy"),
        ("Nicole: Remember me?\nJohn: Sure.", "Nicole"),
        ("follow up with patricia desrosiers in a month", "patricia desrosiers"),
        ("her maiden name is Clark", "Clark"),
    ],
)
def test_finds_people(text: str, name: str) -> None:
    assert name in found(text, "PERSON")


@pytest.mark.parametrize(
    "text",
    [
        "Capitalized words like Wisdom and Discipline are often mistaken with names.",
        "The Quick Brown Fox jumps. However, Tuesday is fine.",
        "Please Send The Report By Friday",
        "I work for Rapid Cycle Solutions",
        "Kroll Bond Ratings Agency opened a new office.",
        "What are my options? Is the ATM open on Monday?",
        "Thanks!",
        "Labor Day is a holiday.",
    ],
)
def test_leaves_ordinary_capitals_and_organisations_alone(text: str) -> None:
    assert found(text, "PERSON") == []


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("She moved here from Estonia", "Estonia"),
        ("The Princess Royal arrived at Dordrecht this morning.", "Dordrecht"),
        ("I will be travelling to Czech Republic next week", "Czech Republic"),
        ("We moved here from New Zealand", "New Zealand"),
        ("I am in Hirvli for a business trip", "Hirvli"),
        ("we moved here from tunisia", "tunisia"),
    ],
)
def test_finds_places(text: str, place: str) -> None:
    assert place in found(text, "LOCATION")


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("The restaurant is at 119 Countess Close", "119 Countess Close"),
        ("Dexter lives on Ziegelgasse 19 street.", "Ziegelgasse 19"),
        ("Meet me at Via Santa Teresa degli Scalzi 71", "Via Santa Teresa degli Scalzi 71"),
        ("send it to P.O. Box 101 today", "P.O. Box 101"),
        (
            "Theresa Gomes\n\n57 Veslebakken 48\n Apt. 441\n HARSTAD\n\n Madagascar 26873",
            "57 Veslebakken 48\n Apt. 441\n HARSTAD\n\n Madagascar 26873",
        ),
        (
            "Address: 6750 Koskikatu 25 Apt. 864\nArtilleros\n, CO\n Uruguay 64677",
            "6750 Koskikatu 25 Apt. 864\nArtilleros\n, CO\n Uruguay 64677",
        ),
        ("USS Napolitani\nFPO AP 70381", "USS Napolitani\nFPO AP 70381"),
        (
            "Meet me at 7943 2027 Prospect St, Dehylov, Czech Republic",
            "7943 2027 Prospect St, Dehylov, Czech Republic",
        ),
    ],
)
def test_finds_addresses_with_their_lines(text: str, address: str) -> None:
    assert found(text, "ADDRESS") == [address]


@pytest.mark.parametrize(
    "text",
    [
        "See Guilty Pleasures: 5 Musicians Of The 70s You're Supposed To Hate",
        "by invoking Article 50 of the Treaty on European Union",
        "Place your order 5 minutes early",
        "I have 3 cats and 2 dogs",
        "call (555) 123-4567 ext 89",
        "It was on this street that the clubs were.",
    ],
)
def test_leaves_prose_with_numbers_alone(text: str) -> None:
    assert found(text, "ADDRESS") == []


def test_an_address_line_is_not_also_a_person_or_a_phone() -> None:
    text = "The restaurant is at 17151 2450 Crown St"
    assert [d.type for d in detect_pii(text)] == ["ADDRESS"]
    assert detect_pii(text, {"PHONE"}) == []


def test_gazetteer_helps_but_cues_work_without_it() -> None:
    text = "My name is Sarah Jones and I live in Paris."
    with_lists = {(d.type, text[d.start : d.end]) for d in detect_pii(text)}
    bare = {(d.type, text[d.start : d.end]) for d in scan(text, PII_TYPES, gazetteer.EMPTY)}
    assert ("PERSON", "Sarah Jones") in with_lists
    assert ("PERSON", "Sarah Jones") in bare
    assert ("LOCATION", "Paris") in with_lists


def test_gazetteer_drops_ordinary_words() -> None:
    words = gazetteer.default()
    assert words.is_first_name("Sarah")
    assert words.is_surname("Jones")
    assert words.is_country("Estonia")
    assert words.is_place("Tallinn")
    assert not words.is_place("the")
    assert not words.is_surname("Street")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hi, I'm John Smith, my email is john.smith@example.com",
            {("PERSON", "John Smith"), ("EMAIL", "john.smith@example.com")},
        ),
        (
            "Contact: Maria Garcia, +34 612 345 678",
            {("PERSON", "Maria Garcia"), ("PHONE", "+34 612 345 678")},
        ),
        (
            "Ship to: 221B Baker Street, London NW1 6XE, United Kingdom",
            {("ADDRESS", "221B Baker Street, London NW1 6XE, United Kingdom")},
        ),
        (
            "Please send it to Dr. Anna Müller at Hauptstraße 5, 10115 Berlin.",
            {("PERSON", "Anna Müller"), ("ADDRESS", "Hauptstraße 5, 10115 Berlin")},
        ),
        (
            "Regards,\nEmily Johnson\nSenior Analyst\nAcme Corp\n+1 212 555 0199",
            {("PERSON", "Emily Johnson"), ("PHONE", "+1 212 555 0199")},
        ),
        ("The meeting is on Monday at 10am in Conference Room B.", set()),
        ("Can you summarize this article about Microsoft and Google for me?", set()),
        ("Use Python 3.11 and Node 18 to build version 2.4.1 of the app.", set()),
    ],
)
def test_everyday_messages(text: str, expected: set[tuple[str, str]]) -> None:
    assert {(d.type, text[d.start : d.end]) for d in detect_pii(text)} == expected
