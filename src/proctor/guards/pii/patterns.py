"""Structured personal data: e-mail, phone, card, IBAN, national ids, IP and MAC addresses.

Each type is a rule: a regular expression that finds candidates and, for most, a check that
confirms one (validate.py). Rules run in order and a span taken by an earlier rule is not
looked at again, so an SSN is not also read as a phone number, nor an IBAN's digits as a card.

Every pattern is linear in the length of the text: candidates start only where the previous
character cannot continue them (a look-behind), and repetitions are bounded or separated by
a mandatory delimiter, so an adversarial input cannot make a pattern backtrack for long.
A rule is skipped outright when the text lacks what it needs (`@` for e-mail, a digit for
most): a message of plain prose costs a few `in` tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from proctor.guards.base import Detection
from proctor.guards.pii import validate
from proctor.guards.pii.spans import Spans

Check = Callable[[str], bool]
_DIGIT = re.compile(r"[0-9]")
_HEX_COLON = re.compile(r":[0-9A-Fa-f]{1,4}:")


@dataclass(frozen=True, slots=True)
class Rule:
    type: str  # the PII type reported: EMAIL, CREDIT_CARD...
    pattern: re.Pattern[str]
    check: Check | None = None  # confirms a candidate; None: every match counts
    needs: str | None = None  # a substring the text must contain for the rule to apply
    group: int = 0  # the group reported (the number after `SSN:`, say)
    # How many characters the value starts before the match: patterns whose value opens
    # with letters (GB82 WEST...) match from the first digit, which the scan finds fast,
    # and look behind for the letters.
    back: int = 0
    gate: Callable[[str], bool] | None = None  # a cheap test the text must pass first
    # A candidate that fails its check still keeps later rules off its span: an IBAN with
    # a typo is no phone number.
    hold: bool = False


EMAIL = Rule(
    "EMAIL",
    re.compile(
        r"(?<![\w.%+-])[\w.%+-]{1,256}+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,24}"
        r"(?![\w-])"
    ),
    needs="@",
)
IBAN = Rule(
    "IBAN",
    re.compile(
        r"[0-9](?<=(?<!\w)[A-Za-z]{2}[0-9])[0-9](?:[A-Za-z0-9]{11,30}"
        r"|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,3})?)(?!\w)"
    ),
    check=validate.iban_ok,
    back=2,
    hold=True,
)
CARD = Rule(
    "CREDIT_CARD",
    re.compile(r"[0-9](?<![\w+-][0-9])(?:[ -]?[0-9]){11,18}(?!\w)"),
    check=validate.card_ok,
)
SSN = Rule(
    "US_SSN",
    re.compile(r"[0-9](?<![\w-][0-9])[0-9]{2}([- ])[0-9]{2}\1[0-9]{4}(?![\w-])"),
    check=validate.ssn_ok,
)
SSN_LABELLED = Rule(  # nine digits in a row only when labelled as one
    "US_SSN",
    re.compile(r"(?i:\b(?:ssn|social security(?: number| no\.?)?))[:#]?\s{0,2}(\d{9})(?!\w)"),
    check=validate.ssn_ok,
    group=1,
)
IPV6 = Rule(
    "IP",
    re.compile(
        r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
        r"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?(?![\w:])"
    ),
    check=validate.ipv6_ok,
    gate=lambda text: "::" in text or _HEX_COLON.search(text) is not None,
)
IPV4 = Rule(
    "IP",
    re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}(?!\.?[0-9])"),
    check=validate.ipv4_ok,
    gate=lambda text: text.count(".") >= 3,
)
MAC = Rule(
    "MAC",
    re.compile(r"(?<![\w:.-])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![\w:.-])"),
    check=validate.mac_ok,
    gate=lambda text: text.count(":") >= 5 or text.count("-") >= 5,
)
# National ids whose shape and check character make a chance match on an ordinary number
# or word unlikely (letters in fixed places, a check letter or a mod 97 key).
UK_NINO = Rule(
    "UK_NINO",
    re.compile(r"[0-9](?<=(?<!\w)[A-Za-z]{2}[0-9])[0-9]{5}[A-Da-d](?!\w)"),
    check=validate.uk_nino_ok,
    back=2,
)
UK_NINO_SPACED = Rule(  # QQ 12 34 56 C
    "UK_NINO",
    re.compile(r"[0-9](?<=(?<!\w)[A-Za-z]{2} [0-9])[0-9] [0-9]{2} [0-9]{2} [A-Da-d](?!\w)"),
    check=validate.uk_nino_ok,
    back=3,
)
ES_DNI = Rule(
    "ES_DNI",
    re.compile(r"[0-9XYZxyz](?<![\w-].)(?:(?<=[0-9])[0-9]{7}|-?[0-9]{7})-?[A-Za-z](?!\w)"),
    check=validate.es_dni_ok,
)
FR_NIR = Rule(
    "FR_NIR",
    re.compile(
        r"[12](?<![\w][12]) ?[0-9]{2} ?(?:0[1-9]|1[0-2]|[2-9][0-9]) ?(?:[0-9]{2}|2[AB])"
        r" ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}(?!\w)"
    ),
    check=validate.fr_nir_ok,
)
IT_FISCAL_CODE = Rule(
    "IT_FISCAL_CODE",
    re.compile(
        r"[0-9](?<=(?<!\w)[A-Za-z]{6}[0-9])[0-9][A-Za-z][0-9]{2}[A-Za-z][0-9]{3}[A-Za-z](?!\w)"
    ),
    check=validate.it_fiscal_code_ok,
    back=6,
)
PHONE = Rule(
    "PHONE",
    re.compile(
        r"[+(0-9](?<![\w+.-][+(0-9])(?:(?<=\+)|(?<=\()[0-9]{1,5}\) ?|[0-9]{0,14})"
        r"(?:(?<=\+)(?:\([0-9]{1,5}\) ?|[0-9]{1,15}))?"
        r"(?:(?:[ .-]|[ ]?\(0\)[ ]?)(?:\([0-9]{1,5}\) ?)?[0-9]{1,10}){0,6}"
        r"(?:[ ]?(?:x|ext\.?|#)[ ]?[0-9]{1,6})?(?!\w|[.-][0-9])"
    ),
    check=validate.phone_ok,
)

# Order matters: the more specific first, so a span they take is not read again.
RULES: tuple[Rule, ...] = (
    EMAIL,
    IBAN,
    FR_NIR,
    CARD,
    SSN,
    SSN_LABELLED,
    UK_NINO,
    UK_NINO_SPACED,
    ES_DNI,
    IT_FISCAL_CODE,
    MAC,
    IPV6,
    IPV4,
)
NATIONAL_IDS = frozenset({"US_SSN", "UK_NINO", "ES_DNI", "FR_NIR", "IT_FISCAL_CODE"})
# Types found only where the text has a digit (all but e-mail... which has `@`).
STRUCTURED_TYPES = frozenset(r.type for r in RULES) | {"PHONE"}
NEEDS_DIGIT = STRUCTURED_TYPES - {"EMAIL"}


def detect_structured(
    text: str,
    wanted: frozenset[str],
    taken: Spans,
    rules: tuple[Rule, ...] = RULES,
) -> list[Detection]:
    """The types of `rules` among `wanted` in `text`; appends their spans to `taken`.

    PHONE is not in `RULES`: it runs after addresses, whose house numbers ("17151 2450
    Crown St") look like a local phone number on their own."""
    found: list[Detection] = []
    has_digit = _DIGIT.search(text) is not None
    for rule in rules:
        if rule.type not in wanted or (rule.type in NEEDS_DIGIT and not has_digit):
            continue
        if rule.needs is not None and rule.needs not in text:
            continue
        if rule.gate is not None and not rule.gate(text):
            continue
        for match in rule.pattern.finditer(text):
            start, end = match.span(rule.group)
            start -= rule.back
            if taken.overlaps(start, end):
                continue
            if rule.check is not None and not rule.check(text[start:end]):
                if rule.hold:
                    taken.add(start, end)
                continue
            taken.add(start, end)
            found.append(Detection("pii", rule.type, start, end, reason=f"{rule.type} pattern"))
    return found
