"""Structured PII: each type found with exact offsets, look-alikes left alone, the `entities`
filter, and odd input that must never raise."""

from __future__ import annotations

import itertools

import pytest

from proctor.guards.pii import PII_TYPES, detect_pii
from proctor.guards.pii.spans import Spans
from proctor.guards.pii.validate import card_ok, iban_ok, luhn_ok, phone_ok


def found(text: str, entities: set[str] | None = None) -> list[tuple[str, str]]:
    return [(d.type, text[d.start : d.end]) for d in detect_pii(text, entities)]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("write to jane.doe+x@mail.example.co.uk now", "EMAIL", "jane.doe+x@mail.example.co.uk"),
        ("card 4111 1111 1111 1111 ok", "CREDIT_CARD", "4111 1111 1111 1111"),
        ("card 4111-1111-1111-1111", "CREDIT_CARD", "4111-1111-1111-1111"),
        ("maestro 630427373398 lost", "CREDIT_CARD", "630427373398"),
        ("card 4131034282458809939.", "CREDIT_CARD", "4131034282458809939"),
        ("iban GB82 WEST 1234 5698 7654 32.", "IBAN", "GB82 WEST 1234 5698 7654 32"),
        ("from gb42nawi04454264788619 to", "IBAN", "gb42nawi04454264788619"),
        ("DE89370400440532013000 paid", "IBAN", "DE89370400440532013000"),
        ("ssn 123-45-6789", "US_SSN", "123-45-6789"),
        ("SSN: 123456789", "US_SSN", "123456789"),
        ("NI number AB123456C please", "UK_NINO", "AB123456C"),
        ("NINO: AB 12 34 56 C", "UK_NINO", "AB 12 34 56 C"),
        ("DNI 12345678Z", "ES_DNI", "12345678Z"),
        ("NIE X1234567L", "ES_DNI", "X1234567L"),
        ("NIR 2 95 10 99 126 111 93", "FR_NIR", "2 95 10 99 126 111 93"),
        ("codice fiscale RCCMNL83S18D969H", "IT_FISCAL_CODE", "RCCMNL83S18D969H"),
        ("from 192.168.1.20.", "IP", "192.168.1.20"),
        ("v6 2001:db8::8a2e:370:7334 ok", "IP", "2001:db8::8a2e:370:7334"),
        ("6e40:4041:c617:e898:c11:40d2:c669:2eb4", "IP", "6e40:4041:c617:e898:c11:40d2:c669:2eb4"),
        ("mac 00:1A:2B:3C:4D:5E here", "MAC", "00:1A:2B:3C:4D:5E"),
        ("mac 00-1a-2b-3c-4d-5e", "MAC", "00-1a-2b-3c-4d-5e"),
        ("call +1 (555) 123-4567 ext 89", "PHONE", "+1 (555) 123-4567 ext 89"),
        ("ring 905-674-3793 today", "PHONE", "905-674-3793"),
        ("+46 (0)8 928 571 38", "PHONE", "+46 (0)8 928 571 38"),
        ("tel 03.93.92.16.85", "PHONE", "03.93.92.16.85"),
        ("Phone: 02.27.96.63.08", "PHONE", "02.27.96.63.08"),
        ("tel 9498777106", "PHONE", "9498777106"),
        ("call (08) 8747 6301", "PHONE", "(08) 8747 6301"),
        ("call 0490 75 40 81", "PHONE", "0490 75 40 81"),
        ("She was born on 4/22/1965. Hi", "DATE_OF_BIRTH", "4/22/1965"),
        ("DOB: 1965-04-22", "DATE_OF_BIRTH", "1965-04-22"),
        ("date of birth 22 April 1965", "DATE_OF_BIRTH", "22 April 1965"),
        ("born Jan. 5, 1965 in Ohio", "DATE_OF_BIRTH", "Jan. 5, 1965"),
    ],
)
def test_finds_each_type_with_exact_offsets(text: str, kind: str, value: str) -> None:
    assert (kind, value) in found(text)
    assert kind in PII_TYPES


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # Luhn fails
        "order 1234567812345678",  # Luhn fails
        "all zeros 0000 0000 0000 0000",
        "iban GB82 WEST 1234 5698 7654 33",  # mod 97 fails
        "iban GB00WEST12345698765432",
        "ssn 000-12-3456 or 666-12-3456 or 912-12-3456",  # never issued
        "build 10.0.19041.1 and 1.02.3.4",
        "NI number QQ123456C",  # QQ is never issued
        "DNI 12345678A",  # wrong check letter
        "mac 00:00:00:00:00:00",
        "we sold 1 000 000 units in 2023",  # a count
        "between 1990-2000",  # a range
        "the meeting is on 2024-01-15 10:30",  # a date and a time
        "it weighs 10.48550 kg",  # a decimal
        "he was born in the spring",  # a birth cue, no date
        "the invoice is dated 4/22/1965",  # a date, no birth cue
        "1.234.567 visitors",  # thousands
    ],
)
def test_leaves_look_alikes_alone(text: str) -> None:
    assert [kind for kind, _ in found(text) if kind not in ("PERSON", "LOCATION")] == []


def test_versions_are_not_ips_but_addresses_are() -> None:
    assert found("upgrade to 1.2.3 then 2.0.1") == []
    assert found("host 10.0.0.1") == [("IP", "10.0.0.1")]
    assert found("v 01.2.3.4") == []  # a leading zero: a version, not an address


def test_ordinary_numbers_are_not_phones() -> None:
    for text in ("I have 3 cats", "page 42", "the year 2024", "ref 12345", "costs 1,299.99"):
        assert found(text) == [], text


def test_checks() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert card_ok("6304 2737 3398")
    assert not card_ok("1111 1111 1111")
    assert iban_ok("GB82WEST12345698765432")
    assert not iban_ok("GB82WEST12345698765431")
    assert not iban_ok("GB82WEST1234569876543٣")
    assert phone_ok("+44 20 7946 0958")
    assert not phone_ok("2024-01-15")


def test_entities_filter_runs_only_those_types() -> None:
    text = "mail a@b.co, card 4111 1111 1111 1111, ip 10.0.0.1, Dear Anna Schmidt"
    assert {kind for kind, _ in found(text)} == {"EMAIL", "CREDIT_CARD", "IP", "PERSON"}
    assert found(text, {"EMAIL"}) == [("EMAIL", "a@b.co")]
    assert found(text, {"IP", "CREDIT_CARD"}) == [
        ("CREDIT_CARD", "4111 1111 1111 1111"),
        ("IP", "10.0.0.1"),
    ]
    assert found(text, set()) == []
    assert found(text, {"NOT_A_TYPE"}) == []


def test_spans_do_not_overlap_and_are_sorted() -> None:
    text = "ssn 123-45-6789, card 4111111111111111, call 905-674-3793, born on 1/2/1980"
    spans = [(d.start, d.end) for d in detect_pii(text)]
    assert spans == sorted(spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    assert all(d.kind == "pii" and 0 < d.score <= 1 for d in detect_pii(text))


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\x00\x01\x02",
        "😀" * 500 + " a@b.co " + "😀" * 500,
        "Привет, меня зовут Иван, мой телефон +7 912 345 67 89",
        "名前は田中です。電話 03-1234-5678",
        "مرحبا ٤١١١١١١١١١١١١١١١",  # Arabic-Indic digits
        "1" * 10_000,
        "A" * 10_000,
        "a@" * 5_000,
        "1." * 5_000,
        "1:" * 5_000,
        "Mr. " * 2_000,
        "12 " * 3_000 + "Street",
        "\n".join(["Suite 1"] * 500),
        "Born " * 2_000 + "1/2/1980",
    ],
)
def test_odd_input_never_raises(text: str) -> None:
    for detection in detect_pii(text):
        assert 0 <= detection.start < detection.end <= len(text)


@pytest.mark.parametrize(
    "unit",
    [
        "1 2-3.4 (5) +6 a@b x:y AB12 ",  # a backtracking pattern would take minutes
        "Via Roma 12 Apt. 3\n",  # thousands of findings: each must not rescan the others
        "Dear Anna Schmidt, ",
        "born on 1/2/1980 ",
    ],
)
def test_huge_input_stays_linear(unit: str) -> None:
    text = (unit * (200_000 // len(unit) + 1))[:200_000]
    found = detect_pii(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))


def test_claimed_spans_merge_and_answer_overlaps() -> None:
    spans = Spans()
    assert not spans
    assert not spans.overlaps(0, 10)
    for start, end in [(10, 20), (30, 40), (0, 5), (18, 32), (50, 60)]:
        spans.add(start, end)
    assert len(spans) == 3  # (0, 5), (10, 40), (50, 60)
    assert spans.overlaps(39, 45)
    assert spans.overlaps(4, 6)
    assert spans.overlaps(55, 56)
    assert not spans.overlaps(5, 10)
    assert not spans.overlaps(40, 50)
    assert not spans.overlaps(60, 99)
    assert spans.starts_within(41, 51)
    assert not spans.starts_within(41, 50)
