"""The header summary, the block message and the breaker's outcomes, from findings."""

from __future__ import annotations

from proctor.context import Finding
from proctor.guards.replies import describe, outcomes, summary


def _f(rule: str, action: str, kind: str | None = None, stage: str = "guard_in") -> Finding:
    return Finding(stage, rule, action, kind=kind, type=kind and kind.upper(), message=0)


def test_summary_counts_past_one_and_ignores_other_stages() -> None:
    findings = [
        _f("injection", "flag", "injection"),
        _f("pii", "redact", "pii"),
        _f("pii", "redact", "pii"),
        _f("toxicity", "flag", "toxicity", stage="guard_out"),
        Finding("settle", "refusal", "flag"),
    ]
    assert summary(findings) == "injection=flag;pii=redact:2;toxicity=flag"
    assert summary([Finding("settle", "refusal", "flag")]) is None


def test_describe_names_rule_and_place_but_not_a_personal_value() -> None:
    pii = Finding("guard_in", "pii", "block", detail="email-pattern", kind="pii", type="EMAIL")
    pii.message = 2
    assert describe(pii) == "blocked by the guard rule `pii`: pii (EMAIL) in message 2"
    leak = Finding("guard_out", "leak", "block", detail="canary-token", kind="leak", type="CANARY")
    assert describe(leak) == (
        "blocked by the guard rule `leak`: leak (CANARY) in the reply: canary-token"
    )


def test_outcomes_are_actions_and_kinds_once_each() -> None:
    findings = [
        _f("injection", "flag", "injection"),
        _f("secrets", "block", "secret"),
        _f("pii", "redact", "pii"),
        _f("pii", "redact", "pii"),
        Finding("guard_in", "review", "reject"),
    ]
    assert outcomes(findings) == ["flag", "injection", "block", "secret", "redact", "pii", "review"]
    assert outcomes([Finding("settle", "refusal", "flag")]) == []
