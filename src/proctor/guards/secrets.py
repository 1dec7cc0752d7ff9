"""Secrets in free text: API keys by provider format, private keys, credentials in connection
strings, `password=` assignments, bearer tokens and JWTs: `detect_secrets(text)`.

Only what has a recognisable shape is reported. A random-looking string alone is not a secret
(git SHAs, UUIDs, hashes and base64 blobs are everywhere in code and logs, and entropy alone
flags them); a generic token counts only as the value of a key-ish name (`client_secret = ...`,
`X-Api-Key: ...`) and only when it looks random.

The patterns shared with trace redaction (private keys, JWTs, bearer tokens, URL credentials)
are taken from `redact.py`, so the two never disagree. Every pattern is linear in the length of
the text (bounded repetitions, possessive quantifiers, look-behinds instead of backtracking),
and each rule is skipped when the text lacks a literal it needs.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from proctor.guards.base import Detection
from proctor.guards.redact import RULES as _REDACT_RULES

_REDACT = {rule.kind: rule.pattern for rule in _REDACT_RULES}

Check = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class _Rule:
    type: str
    pattern: re.Pattern[str]
    reason: str
    # Literals of which the text must contain one (checked on the lower-cased text when
    # `folded`), so that most rules cost one substring search on ordinary text.
    needs: tuple[str, ...]
    check: Check | None = None
    group: int = 0
    folded: bool = False
    score: float = 1.0


# --- checks -------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(
    r"(?i)^(?:<[^>]*>?|\$\{?[\w.-]*\}?|\{\{?[^}]*\}?\}?|%[sd(].*|\*+|x+|\.{3,}|\[[^\]]*\]?"
    r"|null|none|nil|undefined|true|false|changeme|redacted|masked|hidden|example|your[\w-]*"
    r"|secret|password|passwd|pass|pwd|token|api[_-]?key|xxx.*|dummy|test|foo|bar)$"
)


def _is_placeholder(value: str) -> bool:
    """`<password>`, `${DB_PASS}`, `{{ token }}`, `****`, `your-api-key`: not a value."""
    return _PLACEHOLDER.match(value.strip("\"'`")) is not None


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _random_looking(value: str) -> bool:
    """Letters and digits mixed the way generated keys are, not a word or a number."""
    if len(value) < 12 or _is_placeholder(value):
        return False
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    mixed_case = value.lower() != value and value.upper() != value
    if not has_alpha or not (has_digit or mixed_case):
        return False
    # 12 random base62 characters carry ~3.3 bits each; words, repeats and counters less.
    return _entropy(value) >= min(3.0, math.log2(len(value)) - 0.3)


def _key_body(value: str) -> bool:
    """The random part of a provider key: long, with digits and letters."""
    body = value.rsplit("-", 1)[-1] if value.count("-") > 3 else value
    return _random_looking(body) or _random_looking(value)


def _password(value: str) -> bool:
    stripped = value.strip("\"'`")
    if len(stripped) < 4 or _is_placeholder(stripped):
        return False
    # `password: required`, `Password: Enter` in prose; quoted or `=` values are handled by
    # the caller's pattern (they are not passed here unless they look like a value).
    return not (stripped.isalpha() and (stripped.islower() or stripped.istitle()))


def _basic_auth(value: str) -> bool:
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    user, sep, password = decoded.partition(b":")
    return bool(sep and user and password) and decoded.isascii()


def _credentials(value: str) -> bool:
    _user, _sep, password = value.partition(":")
    return bool(password) and not _is_placeholder(password)


# --- rules --------------------------------------------------------------------------------

_NB = r"(?<![\w-])"  # a key starts where no key character precedes it
_NA = r"(?![\w-])"

_ASSIGN = r"[\"']?\s{0,3}(?::=|=>|[:=])\s{0,3}"

RULES: tuple[_Rule, ...] = (
    _Rule("PRIVATE_KEY", _REDACT["PRIVATE_KEY"], "pem-private-key", ("-----begin",), folded=True),
    _Rule(
        "ANTHROPIC_KEY",
        re.compile(rf"{_NB}sk-ant-[A-Za-z0-9_-]{{20,}}+"),
        "anthropic-api-key",
        ("sk-ant-",),
        check=_key_body,
    ),
    _Rule(
        "OPENAI_KEY",
        re.compile(rf"{_NB}sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{{20,}}+"),
        "openai-api-key",
        ("sk-",),
        check=_key_body,
    ),
    _Rule(
        "AWS_KEY",
        re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[A-Z2-7]{16}(?![A-Za-z0-9])"),
        "aws-access-key-id",
        ("AKIA", "ASIA", "ABIA", "ACCA", "AROA", "AIDA"),
    ),
    _Rule(
        "AWS_KEY",
        # The secret access key: 40 base64 characters, named as one.
        re.compile(
            r"(?i:aws)[\w.-]{0,20}?(?i:secret)[\w.-]{0,20}?"
            + _ASSIGN
            + r"[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        "aws-secret-access-key",
        ("secret",),
        group=1,
        folded=True,
    ),
    _Rule(
        "GITHUB_TOKEN",
        re.compile(rf"{_NB}(?:gh[pousr]_[A-Za-z0-9]{{36,}}+|github_pat_\w{{22,}}+)"),
        "github-token",
        ("gh", "github_pat_"),
    ),
    _Rule("GITLAB_TOKEN", re.compile(rf"{_NB}glpat-[\w-]{{20,}}+"), "gitlab-token", ("glpat-",)),
    _Rule(
        "SLACK_TOKEN",
        re.compile(rf"{_NB}xox[abposre]-[A-Za-z0-9-]{{10,}}+"),
        "slack-token",
        ("xox",),
        check=_key_body,
    ),
    _Rule(
        "SLACK_WEBHOOK",
        re.compile(
            r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,}"
        ),
        "slack-webhook",
        ("hooks.slack.com",),
    ),
    _Rule(
        "STRIPE_KEY",
        re.compile(rf"{_NB}(?:sk|rk|whsec)_(?:live|test)_[A-Za-z0-9]{{16,}}+"),
        "stripe-key",
        ("_live_", "_test_"),
    ),
    _Rule(
        "GOOGLE_API_KEY",
        re.compile(rf"{_NB}AIza[\w-]{{35}}{_NA}"),
        "google-api-key",
        ("AIza",),
    ),
    _Rule(
        "HUGGINGFACE_TOKEN",
        re.compile(rf"{_NB}hf_[A-Za-z0-9]{{30,}}+"),
        "huggingface-token",
        ("hf_",),
        check=_key_body,
    ),
    _Rule("JWT", _REDACT["JWT"], "json-web-token", ("eyJ",)),
    _Rule(
        "CONNECTION_STRING",
        # user:password between `scheme://` and `@` (postgres, mongodb+srv, redis://:pass@...).
        re.compile(r"(?<=://)[^\s/:@]{0,256}:[^\s/@]{1,256}(?=@)"),
        "credentials-in-url",
        ("://",),
        check=_credentials,
    ),
    _Rule("BEARER_TOKEN", _REDACT["TOKEN"], "bearer-token", ("bearer",), group=1, folded=True),
    _Rule(
        "BASIC_AUTH",
        re.compile(r"(?i:\bbasic)\s+([A-Za-z0-9+/]{8,512}={0,2})(?![\w+/=])"),
        "basic-auth",
        ("basic",),
        check=_basic_auth,
        group=1,
        folded=True,
    ),
    _Rule(
        "PASSWORD",
        re.compile(
            r"(?i)(?<![a-z])(?:password|passwd|passphrase|pwd)(?:[_-]?[a-z]{1,12})?"
            + _ASSIGN
            + r"(\"[^\"\s]{4,256}\"|'[^'\s]{4,256}'|(?![\"'])[^\s\"',;&]{4,256})"
        ),
        "password-assignment",
        ("pass", "pwd"),
        check=_password,
        group=1,
        folded=True,
        score=0.9,
    ),
    _Rule(
        "GENERIC_SECRET",
        re.compile(
            r"(?i)(?<![a-z])(?:api[_-]?key|apikey|secret|token|access[_-]?key|auth|credential"
            r"|private[_-]?key|client[_-]?secret)(?:[_-]?[a-z]{1,12}){0,2}"
            + _ASSIGN
            + r"[\"'`]?([A-Za-z0-9_\-+/=.~]{12,256})(?![A-Za-z0-9_\-+/=.~])"
        ),
        "secret-assignment",
        ("key", "secret", "token", "auth", "credential"),
        check=_random_looking,
        group=1,
        folded=True,
        score=0.8,
    ),
)


def _needed(rule: _Rule, text: str, folded: str) -> bool:
    haystack = folded if rule.folded else text
    return any(needle in haystack for needle in rule.needs)


class _Taken:
    """The spans already reported, which never overlap: sorted, so that checking a new one
    costs a binary search however many there are."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.starts, start)
        return (i > 0 and self.ends[i - 1] > start) or (
            i < len(self.starts) and self.starts[i] < end
        )

    def add(self, start: int, end: int) -> None:
        i = bisect.bisect_right(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)


def detect_secrets(text: str) -> list[Detection]:
    """Secrets in `text`, in order of position; overlapping candidates are reported once, by
    the most specific rule (a provider key before the `api_key = ...` assignment around it)."""
    if len(text) < 8:
        return []
    folded = text.lower()
    # JDBC first: its password parameter is more specific than a `password=` assignment.
    found = _jdbc_passwords(text) if "jdbc:" in folded else []
    taken = _Taken()
    for detection in found:
        taken.add(detection.start, detection.end)
    for rule in RULES:
        if not _needed(rule, text, folded):
            continue
        for match in rule.pattern.finditer(text):
            value = match.group(rule.group)
            if not value or (rule.check is not None and not rule.check(value)):
                continue
            start, end = match.span(rule.group)
            if len(value) > 2 and value[0] in "\"'" and value[-1] == value[0]:
                start, end = start + 1, end - 1  # the quotes are not part of the secret
            if not taken.overlaps(start, end):
                taken.add(start, end)
                found.append(Detection("secret", rule.type, start, end, rule.score, rule.reason))
    found.extend(_aws_pairs(text, found, taken))
    found.sort(key=lambda d: d.start)
    return found


# A whole JDBC URL, possessively (URLs never overlap, so the scan is one pass), then its
# password parameter, looked for inside it.
_JDBC = re.compile(r"(?i)\bjdbc:\w{1,20}:[^\s\"']{1,2048}+")
_JDBC_PASSWORD = re.compile(r"(?i)[?;&]password=([^&;\s\"']{1,256})")


def _jdbc_passwords(text: str) -> list[Detection]:
    passwords: list[Detection] = []
    for url in _JDBC.finditer(text):
        for match in _JDBC_PASSWORD.finditer(url[0]):
            start, end = (url.start() + i for i in match.span(1))
            if not _is_placeholder(match[1]):
                passwords.append(
                    Detection("secret", "CONNECTION_STRING", start, end, 1.0, "jdbc-password")
                )
    return passwords


_AWS_SECRET = re.compile(
    r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]{0,39}[0-9])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
)
# How far after an access key id its secret is looked for (an `.env` block, a CSV row).
_PAIR_WINDOW = 256


def _aws_pairs(text: str, found: list[Detection], taken: _Taken) -> list[Detection]:
    """The unnamed secret access key that follows an access key id (`AKIA... wJalr...`)."""
    pairs: list[Detection] = []
    for key in [d for d in found if d.reason == "aws-access-key-id"]:
        window_end = min(len(text), key.end + _PAIR_WINDOW)
        for match in _AWS_SECRET.finditer(text, key.end, window_end):
            start, end = match.span()
            if not taken.overlaps(start, end) and _random_looking(match.group()):
                taken.add(start, end)
                pairs.append(Detection("secret", "AWS_KEY", start, end, 0.9, "aws-secret-pair"))
                break
    return pairs
