"""Redaction of personal data and secrets in free text: `redact_text(text) -> text`.

Secrets first: each kind is a rule, a regular expression that finds candidates, replaced by
its label (`[API_KEY]`, `[JWT]`...). Rules run in order, so a span taken by an earlier rule
(a key inside a URL) is a label by the time later rules look. Then personal data, found by
the PII detector's structured rules (`proctor.guards.pii.patterns`: e-mail, card with Luhn,
IBAN with mod 97, US SSN, IP, phone), replaced by `[EMAIL]`, `[CARD]`, `[IBAN]`, `[SSN]`,
`[IP]`, `[PHONE]`: trace redaction and the guardrail never disagree on what a card number is.

Every pattern is linear in the length of the text: candidates start only where the previous
character cannot continue them (a look-behind), and repetitions are bounded or separated by
a mandatory delimiter, so an adversarial input cannot make a pattern backtrack for long.
Rules are skipped outright when the text lacks the character they need (`@` for e-mail...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from proctor.guards.pii import patterns as pii
from proctor.guards.pii.spans import Spans
from proctor.guards.pii.validate import iban_ok, luhn_ok

__all__ = ["RULES", "Rule", "iban_ok", "luhn_ok", "redact_prefix", "redact_text"]

Check = Callable[[str], bool]
# How far either side of a cut `redact_prefix` looks for a candidate crossing it.
_BOUNDARY = 1024


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str  # the label without brackets: API_KEY, JWT...
    pattern: re.Pattern[str]
    check: Check | None = None  # confirms a candidate; None: every match counts
    needs: str | None = None  # a character the text must contain for the rule to apply
    group: int = 0  # the group replaced (the value of a `password=...` pair, say)

    @property
    def label(self) -> str:
        return f"[{self.kind}]"


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
# The PII types redacted in traces and logs, with their labels.
_PII_LABELS = {
    "EMAIL": "[EMAIL]",
    "CREDIT_CARD": "[CARD]",
    "IBAN": "[IBAN]",
    "US_SSN": "[SSN]",
    "IP": "[IP]",
    "PHONE": "[PHONE]",
}
_PII_WANTED = frozenset(_PII_LABELS)
_PII_RULES = tuple(rule for rule in pii.RULES if rule.type in _PII_WANTED)


def _redact_pii(text: str) -> str:
    taken = Spans()
    found = pii.detect_structured(text, _PII_WANTED, taken, _PII_RULES)
    found += pii.detect_structured(text, _PII_WANTED, taken, (pii.PHONE,))
    if not found:
        return text
    found.sort(key=lambda d: d.start)
    parts: list[str] = []
    position = 0
    for detection in found:
        parts += (text[position : detection.start], _PII_LABELS[detection.type])
        position = detection.end
    parts.append(text[position:])
    return "".join(parts)


def redact_text(text: str) -> str:
    """`text` with e-mails, phone numbers, cards, IBANs, SSNs, IP addresses, keys and tokens
    replaced by their labels."""
    for rule, replace in _COMPILED:
        if rule.needs is not None and rule.needs not in text:
            continue
        text = rule.pattern.sub(replace, text)
    return _redact_pii(text)


def redact_prefix(text: str, limit: int) -> tuple[str, bool]:
    """About the first `limit` characters of `text`, redacted, and whether it was cut.

    Redacting only a prefix bounds the cost on a long text; the cut is moved back to before
    any candidate that crosses it, so that no half of a card number or key is left behind
    unrecognised.
    """
    if len(text) <= limit:
        return redact_text(text), False
    low = max(0, limit - _BOUNDARY)
    high = limit + _BOUNDARY
    spans = [match.span() for rule in RULES for match in rule.pattern.finditer(text, low, high)]
    spans += [
        (match.start(rule.group) - rule.back, match.end(rule.group))
        for rule in (*_PII_RULES, pii.PHONE)
        for match in rule.pattern.finditer(text, low, high)
    ]
    cut, moved = limit, True
    while moved:  # moving back may land inside another candidate
        moved = False
        for start, end in spans:
            if start < cut < end:
                cut, moved = start, True
    return redact_text(text[:cut]), True
