"""The `guards` section: which guard runs on what, and what it does when it fires.

    guards:
      injection: {action: flag, threshold: 0.8, parallel: true, scan: [user, tool, documents]}
      pii: {action: redact, mode: placeholder, entities: [EMAIL, PHONE]}
      secrets: {action: block}
      invisible: {action: strip}
      language: {allowed: [en, fr], action: block}
      banned: {substrings: [...], topics: {weapons: [...]}, action: block}
      input: {max_chars: 20000, max_message_chars: 8000}
      toxicity: {action: flag, threshold: 0.7}       # on the reply
      leak: {action: flag, canary: true}              # on the reply
      output_pii: {action: redact, mode: mask}        # on the reply
      output_secrets: {action: block}                 # on the reply
      schema: {reask: true}                           # reply vs response_format
      block_response: error                           # or refusal
      review: {...}                                   # config/guard_ops.py
      anomaly: {...}                                  # config/guard_ops.py
      features: {support: {pii: {action: block}}}     # per-feature overrides
      log_redaction: true

Without the section (or for a rule it leaves out) the defaults hold: injection flagged,
personal data replaced by reversible placeholders toward the provider, secrets blocked,
invisible characters stripped, toxic output and prompt leaks flagged. A rule set to `null` or
`action: off` is off. Every error names its key (`$.guards.pii.mode`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, Literal

import msgspec

from proctor.config.guard_ops import AnomalyConfig, ReviewConfig, check_anomaly, check_review

Action = Literal["block", "redact", "flag", "strip", "review", "off"]
Source = Literal["system", "user", "assistant", "tool", "documents"]
RedactMode = Literal["placeholder", "mask", "hash"]

# The entity types `guards.pii.entities` may name: proctor.guards.pii.PII_TYPES, spelled
# out here because importing the detector (phone metadata, word lists) takes a second and a
# configuration is loaded by every command; a test keeps the two equal.
PII_ENTITIES: frozenset[str] = frozenset(
    {
        "EMAIL",
        "PHONE",
        "CREDIT_CARD",
        "IBAN",
        "US_SSN",
        "UK_NINO",
        "ES_DNI",
        "FR_NIR",
        "IT_FISCAL_CODE",
        "IP",
        "MAC",
        "PERSON",
        "ADDRESS",
        "LOCATION",
        "DATE_OF_BIRTH",
    }
)


class _Rule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    action: Action = "flag"
    # The parts of the conversation scanned; None: the rule's own default (policy.py).
    scan: tuple[Source, ...] | None = None
    # A flag-only rule may run while the provider works instead of before the call. Off by
    # default: it takes the rule's time off the request's path only when the provider is
    # slower than the rule, and costs CPU (bench/guards/latency.py, row "default, injection
    # parallel", in docs/BENCHMARKS.md).
    parallel: bool = False
    # When the detector itself fails: False lets the request through (logged, counted),
    # True refuses it.
    fail_closed: bool = False


class InjectionRule(_Rule, frozen=True):
    action: Action = "flag"
    threshold: float | None = None  # None: the detector's tuned default


class PiiRule(_Rule, frozen=True):
    action: Action = "redact"
    mode: RedactMode = "placeholder"
    entities: tuple[str, ...] | None = None  # None: every type
    # Key of the `hash` mode; unset, a random one per configuration (hashes then only
    # join within one configuration's lifetime).
    hash_key: str | None = None


class SecretsRule(_Rule, frozen=True):
    action: Action = "block"
    mode: RedactMode = "mask"
    hash_key: str | None = None


class InvisibleRule(_Rule, frozen=True):
    action: Action = "strip"


class LanguageRule(_Rule, frozen=True):
    action: Action = "block"
    allowed: tuple[str, ...] = ()
    # Below this confidence the detected language is not trusted (short texts): no finding.
    min_confidence: float = 0.5
    min_chars: int = 20


class BannedRule(_Rule, frozen=True):
    action: Action = "block"
    substrings: tuple[str, ...] = ()
    topics: dict[str, tuple[str, ...]] = {}


class InputLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Size limits on the text of a request; beyond them it is refused (400)."""

    max_chars: int | None = None  # all messages together
    max_message_chars: int | None = None  # any one message


class ToxicityRule(_Rule, frozen=True):
    action: Action = "flag"
    threshold: float | None = None


class LeakRule(_Rule, frozen=True):
    action: Action = "flag"
    canary: bool = True  # a canary token is added to the system prompt sent upstream


class OutputPiiRule(_Rule, frozen=True):
    action: Action = "flag"
    mode: RedactMode = "mask"
    entities: tuple[str, ...] | None = None
    hash_key: str | None = None


class OutputSecretsRule(_Rule, frozen=True):
    action: Action = "redact"
    mode: RedactMode = "mask"
    hash_key: str | None = None


class SchemaRule(_Rule, frozen=True):
    action: Action = "flag"
    reask: bool = True  # one automatic re-ask with the errors (not for streams)


class StreamGuardConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Sliding window over a streamed reply: scanned every `step_chars` new characters,
    each window overlapping the last by `overlap_chars` (so a match across chunks is seen).
    When an output rule may block or redact, the last `overlap_chars` are held back until
    scanned. When the output rules only flag, nothing waits for a scan, so the windows are
    longer (`flag_step_chars`): fewer detector calls for the same text."""

    step_chars: int = 192
    flag_step_chars: int = 1024
    overlap_chars: int = 64


class GuardsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    # Input
    input: InputLimits | None = None
    invisible: InvisibleRule | None = InvisibleRule()
    banned: BannedRule | None = None
    language: LanguageRule | None = None
    secrets: SecretsRule | None = SecretsRule()
    injection: InjectionRule | None = InjectionRule()
    pii: PiiRule | None = PiiRule()
    # Output
    toxicity: ToxicityRule | None = ToxicityRule()
    leak: LeakRule | None = LeakRule()
    output_pii: OutputPiiRule | None = None
    output_secrets: OutputSecretsRule | None = None
    schema: SchemaRule | None = None
    # What a block looks like: the API's 4xx error, or an assistant refusal.
    block_response: Literal["error", "refusal"] = "error"
    refusal_message: str = "I can't help with that request."
    stream: StreamGuardConfig = StreamGuardConfig()
    review: ReviewConfig | None = None
    anomaly: AnomalyConfig | None = None
    # feature name -> the same keys as this section (rules, block_response), merged field
    # by field over it for that feature's requests.
    features: dict[str, dict[str, Any]] = {}
    # Logs and traces see the request as the provider saw it (redacted), not the original.
    log_redaction: bool = True


INPUT_RULES = ("invisible", "banned", "language", "secrets", "injection", "pii")
OUTPUT_RULES = ("toxicity", "leak", "output_pii", "output_secrets", "schema")
RULES = INPUT_RULES + OUTPUT_RULES

_ACTIONS: dict[str, frozenset[str]] = {
    "invisible": frozenset({"strip", "flag", "block", "off"}),
    "banned": frozenset({"block", "flag", "review", "off"}),
    "language": frozenset({"block", "flag", "review", "off"}),
    "secrets": frozenset({"block", "redact", "flag", "review", "off"}),
    "injection": frozenset({"flag", "block", "review", "off"}),
    "pii": frozenset({"redact", "flag", "block", "review", "off"}),
    "toxicity": frozenset({"flag", "block", "off"}),
    "leak": frozenset({"flag", "block", "off"}),
    "output_pii": frozenset({"flag", "redact", "block", "off"}),
    "output_secrets": frozenset({"flag", "redact", "block", "off"}),
    "schema": frozenset({"flag", "block", "off"}),
}
# Keys a feature may override: the rules, what a block looks like, and the input limits.
_FEATURE_KEYS = frozenset({*RULES, "input", "block_response", "refusal_message"})
_LANGUAGE = re.compile(r"[a-z]{2,3}")


def feature_config(base: GuardsConfig, override: dict[str, Any]) -> GuardsConfig:
    """`base` with one feature's overrides: a rule given as a mapping is merged field by
    field into the base rule (or the rule's defaults), `null` turns it off, a scalar
    replaces. Raises msgspec.ValidationError on a bad value."""
    raw: dict[str, Any] = msgspec.to_builtins(base)
    raw["features"] = {}
    for key, value in override.items():
        current = raw.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            raw[key] = {**current, **value}
        else:
            raw[key] = value
    return msgspec.convert(raw, GuardsConfig, str_keys=True, strict=False)


def check_guards(guards: GuardsConfig, models: Collection[str] | None = None) -> str | None:
    """The first problem with the section, naming its key; None when it is fine."""
    problem = _check_rules(guards, "$.guards")
    if problem is not None:
        return problem
    if guards.review is not None and (problem := check_review(guards.review)) is not None:
        return problem
    if guards.review is not None and (problem := _check_high_risk(guards.review)) is not None:
        return problem
    if guards.anomaly is not None and (problem := check_anomaly(guards.anomaly, models)):
        return problem
    if (problem := _check_stream(guards.stream)) is not None:
        return problem
    for name, override in guards.features.items():
        where = f"$.guards.features.{name}"
        if not isinstance(override, dict):
            return f"`{where}` must be a mapping of guard rules"
        for key in override:
            if key not in _FEATURE_KEYS:
                return f"`{where}.{key}` is not a rule a feature can override"
        try:
            merged = feature_config(guards, override)
        except msgspec.ValidationError as exc:
            message = str(exc)
            return message.replace("`$", f"`{where}", 1) if "`$" in message else message
        if (problem := _check_rules(merged, where)) is not None:
            return problem
    return None


def _check_high_risk(review: ReviewConfig) -> str | None:
    for i, rule in enumerate(review.high_risk_rules):
        if rule not in RULES:  # a misspelt rule would hold nothing, silently
            known = ", ".join(RULES)
            return f"`$.guards.review.high_risk_rules[{i}]` is not a rule: {rule!r} ({known})"
    return None


def _check_stream(stream: StreamGuardConfig) -> str | None:
    for name in ("step_chars", "flag_step_chars"):
        if not 16 <= getattr(stream, name) <= 65_536:
            return f"`$.guards.stream.{name}` must be from 16 to 65536"
    if not 0 <= stream.overlap_chars <= 4096:
        return "`$.guards.stream.overlap_chars` must be from 0 to 4096"
    return None


def _check_rules(guards: GuardsConfig, where: str) -> str | None:
    for name in RULES:
        rule = getattr(guards, name)
        if rule is None:
            continue
        at = f"{where}.{name}"
        if rule.action not in _ACTIONS[name]:
            allowed = ", ".join(sorted(_ACTIONS[name]))
            return f"`{at}.action` cannot be {rule.action} for this rule (allowed: {allowed})"
        if rule.parallel and rule.action != "flag":
            return f"`{at}.parallel` needs `action: flag` (only a flag can wait for the call)"
        if rule.parallel and rule.fail_closed:
            return f"`{at}.parallel` cannot go with `fail_closed` (the call has begun by then)"
        if (problem := _check_rule(name, rule, at)) is not None:
            return problem
    if guards.input is not None:
        for field in ("max_chars", "max_message_chars"):
            value = getattr(guards.input, field)
            if value is not None and value <= 0:
                return f"`{where}.input.{field}` must be positive, got {value}"
    if not guards.refusal_message.strip():
        return f"`{where}.refusal_message` must not be empty"
    return None


def _check_rule(name: str, rule: _Rule, at: str) -> str | None:
    threshold = getattr(rule, "threshold", None)
    if threshold is not None and not 0 <= threshold <= 1:
        return f"`{at}.threshold` must be in [0, 1], got {threshold}"
    entities = getattr(rule, "entities", None)
    for i, entity in enumerate(entities or ()):
        if entity not in PII_ENTITIES:
            known = ", ".join(sorted(PII_ENTITIES))
            return f"`{at}.entities[{i}]` is not a PII type: {entity!r} (known: {known})"
    mode = getattr(rule, "mode", None)
    if name.startswith("output_") and mode == "placeholder":
        return f"`{at}.mode` cannot be placeholder on the reply (use mask or hash)"
    if isinstance(rule, LanguageRule):
        return _check_language(rule, at)
    if isinstance(rule, BannedRule):
        return _check_banned(rule, at)
    return None


def _check_language(rule: LanguageRule, at: str) -> str | None:
    if not rule.allowed:
        return f"`{at}.allowed` must list at least one language"
    for i, code in enumerate(rule.allowed):
        if not _LANGUAGE.fullmatch(code):
            return f"`{at}.allowed[{i}]` must be an ISO 639-1 code like en, got {code!r}"
    if not 0 <= rule.min_confidence <= 1:
        return f"`{at}.min_confidence` must be in [0, 1]"
    return None


def _check_banned(rule: BannedRule, at: str) -> str | None:
    if not rule.substrings and not rule.topics:
        return f"`{at}` needs `substrings` or `topics`"
    for i, value in enumerate(rule.substrings):
        if not value.strip():
            return f"`{at}.substrings[{i}]` must not be empty"
    for topic, phrases in rule.topics.items():
        if not phrases or not all(p.strip() for p in phrases):
            return f"`{at}.topics.{topic}` must list non-empty phrases"
    return None
