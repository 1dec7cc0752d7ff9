"""Secrets: each provider format found with its exact span, near misses left alone."""

from __future__ import annotations

import pytest

from proctor.guards.secrets import detect_secrets

# Fake keys with the real shapes (random-looking bodies; none of them is a live credential).
OPENAI = "sk-proj-Xb7Qm2Lp9Rt4Vz8Nc1Kd6Hs3Fw5Gy0Ja"
OPENAI_LEGACY = "sk-4fT9bQ2mX7cL1vR8nZ3kW6pH5jD0sG9aY2eU7iO4"
ANTHROPIC = "sk-ant-api03-Qm2Lp9Rt4Vz8Nc1Kd6Hs3Fw5Gy0JaXb7Rk2Tq9-Zx4Wc8AA"
AWS_ID = "AKIAZ7QX3JW5LMNOP2RS"
AWS_SECRET = "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"
GITHUB = "ghp_Xb7Qm2Lp9Rt4Vz8Nc1Kd6Hs3Fw5Gy0JaR2k9"
GITHUB_PAT = "github_pat_11ABCDEFG0aB3cD5eF7gH9_Xb7Qm2Lp9Rt4Vz8Nc1Kd6Hs3Fw5Gy0Ja"
SLACK = "xoxb-2847561930-4829103847562-Xb7Qm2Lp9Rt4Vz8Nc1Kd6Hs"
STRIPE = "sk_live_51Hb7Qm2Lp9Rt4Vz8Nc1Kd6"
GOOGLE = "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
    "-----END RSA PRIVATE KEY-----"
)


def found(text: str) -> list[tuple[str, str]]:
    return [(d.type, text[d.start : d.end]) for d in detect_secrets(text)]


@pytest.mark.parametrize(
    ("kind", "secret"),
    [
        ("OPENAI_KEY", OPENAI),
        ("OPENAI_KEY", OPENAI_LEGACY),
        ("ANTHROPIC_KEY", ANTHROPIC),
        ("AWS_KEY", AWS_ID),
        ("GITHUB_TOKEN", GITHUB),
        ("GITHUB_TOKEN", GITHUB_PAT),
        ("SLACK_TOKEN", SLACK),
        ("STRIPE_KEY", STRIPE),
        ("GOOGLE_API_KEY", GOOGLE),
        ("JWT", JWT),
        ("PRIVATE_KEY", PEM),
    ],
)
def test_provider_formats_are_found_with_their_span(kind: str, secret: str) -> None:
    text = f"here it is: {secret} -- please keep it safe"
    assert found(text) == [(kind, secret)]
    assert all(d.kind == "secret" for d in detect_secrets(text))


def test_anthropic_key_is_not_reported_as_openai() -> None:
    assert [t for t, _ in found(f"key={ANTHROPIC}")] == ["ANTHROPIC_KEY"]


def test_aws_secret_access_key_named_or_paired() -> None:
    env = f"AWS_ACCESS_KEY_ID={AWS_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"
    assert found(env) == [("AWS_KEY", AWS_ID), ("AWS_KEY", AWS_SECRET)]
    csv = f"user,key,secret\ndeploy,{AWS_ID},{AWS_SECRET}"
    assert found(csv) == [("AWS_KEY", AWS_ID), ("AWS_KEY", AWS_SECRET)]


def test_aws_like_40_chars_alone_are_not_a_secret() -> None:
    assert found(f"checksum {AWS_SECRET} of the file") == []


def test_pem_block_is_one_span_even_when_cut_off() -> None:
    text = f"key:\n{PEM}\nthanks"
    assert found(text) == [("PRIVATE_KEY", PEM)]
    truncated = PEM[:80]
    assert found(f"x {truncated}") == [("PRIVATE_KEY", truncated)]


@pytest.mark.parametrize(
    ("url", "credentials"),
    [
        ("postgres://app:s3cr3t!x@db.internal:5432/prod", "app:s3cr3t!x"),
        ("postgresql://admin:Tr0ub4dor@10.0.0.5/main", "admin:Tr0ub4dor"),
        ("mongodb+srv://svc:hunter22@cluster0.abcde.mongodb.net/db", "svc:hunter22"),
        ("redis://:topsecret9@cache:6379/0", ":topsecret9"),
    ],
)
def test_connection_string_credentials(url: str, credentials: str) -> None:
    assert found(f"DATABASE_URL={url}") == [("CONNECTION_STRING", credentials)]


def test_jdbc_password_parameter() -> None:
    text = "jdbc:mysql://db:3306/app?user=root&password=Sup3rS3cret&ssl=true"
    assert found(text) == [("CONNECTION_STRING", "Sup3rS3cret")]
    text = "jdbc:sqlserver://db:1433;user=sa;Password=Tr0ub4dor9;encrypt=true"
    assert found(text) == [("CONNECTION_STRING", "Tr0ub4dor9")]
    assert found("jdbc:postgresql://db/app?user=x&password=${DB_PASS}") == []


@pytest.mark.parametrize(
    "text",
    [
        "postgres://user:<password>@localhost/db",
        "postgres://user:${DB_PASSWORD}@localhost/db",
        "see https://example.com/path and ftp://files.example.com/x",
    ],
)
def test_placeholders_and_plain_urls_are_not_credentials(text: str) -> None:
    assert found(text) == []


def test_password_assignments_without_quotes_in_span() -> None:
    assert found('password = "hunter2x"') == [("PASSWORD", "hunter2x")]
    assert found("db_password: Tr0ub4dor3") == [("PASSWORD", "Tr0ub4dor3")]


@pytest.mark.parametrize(
    "text",
    [
        "The password: required field. Password: Enter your password below.",
        "Reset your password = click the link we sent.",
        "password: ********",
        "password=<your password>",
    ],
)
def test_password_prose_is_not_a_password(text: str) -> None:
    assert found(text) == []


def test_bearer_and_basic_authorization() -> None:
    assert found("Authorization: Bearer abcdef1234567890abcdef") == [
        ("BEARER_TOKEN", "abcdef1234567890abcdef")
    ]
    assert found("Authorization: Basic dXNlcjpwYXNzd29yZA==") == [
        ("BASIC_AUTH", "dXNlcjpwYXNzd29yZA==")
    ]
    assert found("the basic idea is simple") == []


def test_generic_secret_needs_a_key_name_and_a_random_value() -> None:
    assert found("client_secret = 'a8F3kLm9Qz2Xw7Rt5Yp1'") == [
        ("GENERIC_SECRET", "a8F3kLm9Qz2Xw7Rt5Yp1")
    ]
    assert found("X-Api-Key: 9f8e7d6c5b4a39281706f5e4d3c2b1a0") == [
        ("GENERIC_SECRET", "9f8e7d6c5b4a39281706f5e4d3c2b1a0")
    ]
    assert found("secret: the_launch_date_is_friday") == []
    assert found("max_tokens=1000000 and tokens: 15000000") == []


@pytest.mark.parametrize(
    "text",
    [
        "We use sk-learn and sk-this-is-not-a-key-at-all in the notebook.",
        "commit 3f5a9c1e2b7d4f6a8c0e1b3d5f7a9c1e2b7d4f6a fixed it",
        "request id 550e8400-e29b-41d4-a716-446655440000 failed",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "the AKIA prefix marks AWS keys; ghp_ marks GitHub ones",
        "AIzaSy is how Google keys start",
        'eyJ is base64 for {"',
    ],
)
def test_near_misses_are_not_secrets(text: str) -> None:
    assert found(text) == []


def test_overlapping_candidates_are_reported_once_by_the_specific_rule() -> None:
    text = f'OPENAI_API_KEY="{OPENAI}"'
    assert found(text) == [("OPENAI_KEY", OPENAI)]


def test_results_are_in_text_order() -> None:
    text = f"{GITHUB} then {STRIPE} then password=Zq8!kw2xLm"
    assert [t for t, _ in found(text)] == ["GITHUB_TOKEN", "STRIPE_KEY", "PASSWORD"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00" * 50,
        "sk-" * 5000,
        "-----BEGIN PRIVATE KEY-----" * 200,
        "a://" * 3000,
        "\ud800x" * 10,
    ],
)
def test_odd_input_never_raises(text: str) -> None:
    detect_secrets(text)
