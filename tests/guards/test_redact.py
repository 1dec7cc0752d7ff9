"""The interim redactor: each kind found and labelled, look-alikes left alone, linear time."""

from __future__ import annotations

import time

import pytest

from proctor.guards.redact import iban_ok, luhn_ok, redact_prefix, redact_text

GITHUB = "ghp_" + "A1b2" * 9
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1b2c3d4\nq9Zx+/==\n"
    "-----END RSA PRIVATE KEY-----"
)
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe+x@mail.example.co.uk now", "mail [EMAIL] now"),
        ("UtaKortig@jourrapide.com.", "[EMAIL]."),
        ("card 4111 1111 1111 1111 ok", "card [CARD] ok"),
        ("card 4111-1111-1111-1111", "card [CARD]"),
        ("maestro 630427373398 and 4131034282458809939", "maestro [CARD] and [CARD]"),
        ("iban GB82 WEST 1234 5698 7654 32.", "iban [IBAN]."),
        ("iban gb42nawi04454264788619", "iban [IBAN]"),
        ("DE89370400440532013000 paid", "[IBAN] paid"),
        ("ssn 123-45-6789", "ssn [SSN]"),
        ("SSN: 123456789", "SSN: [SSN]"),
        ("from 192.168.1.20.", "from [IP]."),
        ("v6 2001:db8::8a2e:370:7334 and ::ffff:10.0.0.1", "v6 [IP] and [IP]"),
        ("6e40:4041:c617:e898:c11:40d2:c669:2eb4", "[IP]"),
        ("call +1 (555) 123-4567 ext 89", "call [PHONE]"),
        ("ring 905-674-3793 or +44 20 7946 0958", "ring [PHONE] or [PHONE]"),
        ("+46 (0)8 928 571 38", "[PHONE]"),
        ("tel 03.93.92.16.85", "tel [PHONE]"),
        ("tel 9498777106", "tel [PHONE]"),
        ("key sk-proj-abcDEF1234567890xyz", "key [API_KEY]"),
        ("key sk-ant-api03-abcDEF1234567890xyz_-", "key [API_KEY]"),
        ("aws AKIAIOSFODNN7EXAMPLE", "aws [API_KEY]"),
        (f"gh {GITHUB}", "gh [API_KEY]"),
        ("slack xoxb-123456789012-abcdefABCDEF", "slack [API_KEY]"),
        ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe [API_KEY]"),
        ("Authorization: Bearer abcdef0123456789abcdef", "Authorization: Bearer [TOKEN]"),
        ("authorization: bearer abc.def-123_456~789/xyz=", "authorization: bearer [TOKEN]"),
        (f"jwt {JWT}", "jwt [JWT]"),
        (f"pem {PEM} end", "pem [PRIVATE_KEY] end"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg", "[PRIVATE_KEY]"),
        (
            '{"password": "hunter22", "api_key": "k-12345678"}',
            '{"password": "[SECRET]", "api_key": "[SECRET]"}',
        ),
        ("postgres://admin:s3cr3t@db.internal/x", "postgres://[CREDENTIALS]@db.internal/x"),
    ],
)
def test_finds_and_labels(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Order 4111 1111 1111 1112 failed",  # fails Luhn
        "GB82WEST12345698765433",  # fails mod 97
        "0000 0000 0000 0000",
        "on 2024-01-15 10:30 and 15.01.2024",  # dates, a time
        "between 1990-2000, 700-1000 calories, doi 10.48550",
        "version 1.2.3, pi 3.14159265, 1 000 000 people",
        "at 12:30:45 in std::vector, mac 00:1A:2B:3C:4D:5E",
        "max_tokens=4096 and the bearer bonds",
        "user@localhost is not an address here",
        "999.1.1.1 is not an address",
    ],
)
def test_leaves_look_alikes(text: str) -> None:
    assert redact_text(text) == text


def test_checksums() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32")
    assert not iban_ok("GB82 WEST 1234 5698 7654 33")
    assert not iban_ok("GB82")


def test_prefix_never_cuts_through_a_candidate() -> None:
    text = "x" * 95 + " 4111 1111 1111 1111 and more"
    assert redact_prefix(text, 100) == ("x" * 95 + " ", True)
    assert redact_prefix("short bob@example.com", 100) == ("short [EMAIL]", False)
    assert redact_prefix("k " + PEM, 40) == ("k ", True)
    # A key that began long before the limit is still caught: the rule runs to the text's end.
    long_key = "k -----BEGIN PRIVATE KEY-----\n" + "A" * 3000
    assert redact_prefix(long_key, 2000) == ("k [PRIVATE_KEY]", True)


def test_invalid_ssns_are_not_labelled_as_ssns() -> None:
    for text in ("000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "SSN 123004567"):
        assert "[SSN]" not in redact_text(text)


@pytest.mark.parametrize(
    "text",
    ["1" * 60_000, "12 " * 20_000, "a@" * 30_000, "a:" * 30_000, "(1) " * 15_000, "+1 " * 20_000],
)
def test_adversarial_input_stays_linear(text: str) -> None:
    start = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - start < 2.0  # quadratic behaviour would take minutes
