"""Redaction of personal data and secrets in free text: `redact_text(text) -> text`.

Each kind is a rule: a regular expression that finds candidates, and for most a check that
confirms one (Luhn for cards, ISO 7064 mod 97 for IBANs, the address parser for IPv6, the
shape of a phone number). A confirmed span is replaced by its label (`[EMAIL]`, `[CARD]`...);
a rejected candidate is left as it was. Rules run in order, so a span taken by an earlier
rule (a key inside a URL, an SSN) is a label by the time later rules look.

Every pattern is linear in the length of the text: candidates start only where the previous
character cannot continue them (a look-behind), and repetitions are bounded or separated by
a mandatory delimiter, so an adversarial input cannot make a pattern backtrack for long.
Rules are skipped outright when the text lacks the character they need (`@` for e-mail...).

This is the interim detector set used for trace content; the guardrails stage extends it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

Check = Callable[[str], bool]
# How far either side of a cut `redact_prefix` looks for a candidate crossing it.
_BOUNDARY = 1024


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str  # the label without brackets: EMAIL, CARD...
    pattern: re.Pattern[str]
    check: Check | None = None  # confirms a candidate; None: every match counts
    needs: str | None = None  # a character the text must contain for the rule to apply
    group: int = 0  # the group replaced (the value of a `password=...` pair, say)

    @property
    def label(self) -> str:
        return f"[{self.kind}]"


# --- checks -------------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(candidate: str) -> bool:
    digits = re.sub(r"[ -]", "", candidate)
    return 12 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits)


def iban_ok(candidate: str) -> bool:
    """ISO 13616: two letters, two check digits, up to 30 alphanumerics; mod 97 == 1."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _ssn(candidate: str) -> bool:
    digits = re.sub(r"[ -]", "", candidate)
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _ipv6(candidate: str) -> bool:
    if len(candidate) < 6:  # "::1", "a::b": too short to be worth a label, often code
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


_DATE = re.compile(r"(\d{4})([./-])(\d{1,2})\2(\d{1,2})|(\d{1,2})([./-])(\d{1,2})\6(\d{4}|\d{2})\b")


def _is_date(text: str) -> bool:
    """Starts with 2024-01-15 or 15.01.2024 / 01/15/24 (day and month in range)."""
    match = _DATE.match(text)
    if match is None:
        return False
    if match.group(1):
        month, day = int(match.group(3)), int(match.group(4))
        return 1 <= month <= 12 and 1 <= day <= 31
    a, b = int(match.group(5)), int(match.group(7))
    return 1 <= min(a, b) <= 12 and max(a, b) <= 31


_PHONE_GROUPS = re.compile(r"\d+")


def _phone(candidate: str) -> bool:
    """A phone number's shape: 7 to 15 digits in groups, not a date, not a plain count."""
    body = re.split(r"\s*(?:x|ext\.?|#)\s*\d", candidate, maxsplit=1)[0]
    body = body.replace("(0)", "")
    if _is_date(body):  # and a date followed by a time: 2024-01-15 10:30
        return False
    groups = _PHONE_GROUPS.findall(body)
    digits = sum(len(g) for g in groups)
    if not 7 <= digits <= 15:
        return False
    international = body.startswith(("+", "00"))
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
    return max(len(g) for g in groups) <= 10


# --- patterns -----------------------------------------------------------------------------

_KEY_CHARS = r"[A-Za-z0-9_\-]"

RULES: tuple[Rule, ...] = (
    Rule(
        "PRIVATE_KEY",
        # Up to the END line, or to the end of the text when the key was cut off.
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[^-]|-(?!----END))*+(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)?"
        ),
        needs="-----BEGIN",
    ),
    Rule(
        "CREDENTIALS",
        re.compile(r"(?<=://)[^\s/:@]{1,256}:[^\s/@]{1,256}(?=@)"),
        needs="://",
    ),
    Rule("JWT", re.compile(r"(?<![\w-])eyJ[\w-]{4,}+\.eyJ[\w-]{4,}+(?:\.[\w-]*+)?"), needs="eyJ"),
    Rule(
        "TOKEN",
        re.compile(r"(?i:\bbearer)\s+((?=[\w.~+/-]{0,512}\d)[\w.~+/-]{16,}+=*)"),
        group=1,
    ),
    Rule(
        "API_KEY",
        re.compile(
            r"(?<![\w-])(?:"
            rf"sk-{_KEY_CHARS}{{16,}}+"  # OpenAI (sk-, sk-proj-), Anthropic (sk-ant-)
            r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}+"  # Stripe
            r"|(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"  # AWS access key id
            r"|gh[pousr]_[A-Za-z0-9]{36,}+|github_pat_\w{22,}+"  # GitHub
            r"|glpat-[\w-]{20,}+"  # GitLab
            r"|xox[abposr]-[A-Za-z0-9-]{10,}+"  # Slack
            r"|AIza[\w-]{35}(?![\w-])"  # Google
            r"|hf_[A-Za-z0-9]{30,}+"  # Hugging Face
            r")"
        ),
    ),
    Rule(
        "SECRET",
        # The value of `password: ...`, `api_key="..."`, `secret=...` and the like.
        re.compile(
            r"(?i)\b(?:api[_-]?key|secret(?:[_-]?key)?|access[_-]?key|auth[_-]?token|token"
            r"|password|passwd|pwd)[\"']?\s{0,3}[:=]\s{0,3}[\"']?(?!\[)([^\s\"',;]{6,}+)"
        ),
        group=1,
    ),
    Rule(
        "EMAIL",
        re.compile(
            r"(?<![\w.%+-])[\w.%+-]{1,256}+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,24}"
            r"(?![\w-])"
        ),
        needs="@",
    ),
    Rule(
        "IBAN",
        re.compile(
            r"(?<![\w])[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}"
            r"(?: [A-Za-z0-9]{1,3})?)(?![\w])"
        ),
        check=iban_ok,
    ),
    Rule("CARD", re.compile(r"(?<![\w+-])\d(?:[ -]?\d){11,18}(?![\w])"), check=_card),
    Rule("SSN", re.compile(r"(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w-])"), check=_ssn),
    Rule(  # nine digits in a row only when labelled as one
        "SSN",
        re.compile(r"(?i:\bssn\b)[:#]?\s{0,2}(\d{9})(?!\w)"),
        check=_ssn,
        group=1,
    ),
    Rule(
        "IP",
        re.compile(
            r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
            r"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?(?![\w:])"
        ),
        check=_ipv6,
        needs=":",
    ),
    Rule(
        "IP",
        re.compile(
            r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
            r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d)"
        ),
        needs=".",
    ),
    Rule(
        "PHONE",
        re.compile(
            r"(?<![\w+.-])(?:\+|\b00)?(?:\(\d{1,5}\) ?|\d{1,15})"
            r"(?:(?:[ .-]|[ ]?\(0\)[ ]?)(?:\(\d{1,5}\) ?)?\d{1,10}){0,6}"
            r"(?:[ ]?(?:x|ext\.?|#)[ ]?\d{1,6})?(?!\w|[.-]\d)"
        ),
        check=_phone,
    ),
)


def _replacer(rule: Rule) -> Callable[[re.Match[str]], str]:
    check, group, label = rule.check, rule.group, rule.label

    def replace(match: re.Match[str]) -> str:
        value = match.group(group)
        if check is not None and not check(value):
            return match.group(0)
        if group == 0:
            return label
        start, end = match.span(group)
        whole = match.group(0)
        offset = match.start(0)
        return whole[: start - offset] + label + whole[end - offset :]

    return replace


_COMPILED = tuple((rule, _replacer(rule)) for rule in RULES)


def redact_text(text: str) -> str:
    """`text` with e-mails, phone numbers, cards, IBANs, SSNs, IP addresses, keys and tokens
    replaced by their labels."""
    for rule, replace in _COMPILED:
        if rule.needs is not None and rule.needs not in text:
            continue
        text = rule.pattern.sub(replace, text)
    return text


def redact_prefix(text: str, limit: int) -> tuple[str, bool]:
    """About the first `limit` characters of `text`, redacted, and whether it was cut.

    Redacting only a prefix bounds the cost on a long text; the cut is moved back to before
    any candidate that crosses it, so that no half of a card number or key is left behind
    unrecognised.
    """
    if len(text) <= limit:
        return redact_text(text), False
    low = max(0, limit - _BOUNDARY)
    spans = [
        match.span()
        for rule in RULES
        for match in rule.pattern.finditer(text, low, limit + _BOUNDARY)
    ]
    cut, moved = limit, True
    while moved:  # moving back may land inside another candidate
        moved = False
        for start, end in spans:
            if start < cut < end:
                cut, moved = start, True
    return redact_text(text[:cut]), True
