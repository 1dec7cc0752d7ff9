"""Each rule kind fires on a synthetic series and respects its cooldown (a hand-driven clock)."""

from __future__ import annotations

from typing import Any

import pytest

from proctor.context import Finding
from tests.alerts.helpers import Clock, alerts_config, engine, request, requests

COST = """
rules:
  - {name: cost-spike, metric: cost_usd, window: 1h, above: 25}
cooldown: 15m
"""


def test_cost_above_fires_once_per_cooldown_and_resolves() -> None:
    clock = Clock()
    alerts = engine(COST, clock)
    alerts.observe(requests(3, cost_usd=10.0))
    [fired] = alerts.evaluate()
    assert (fired.rule, fired.status, fired.subject) == ("cost-spike", "firing", "all")
    assert fired.value == pytest.approx(30.0)
    assert fired.key == "cost-spike/all"
    assert "$30.00" in fired.summary
    clock.advance(5)
    assert alerts.evaluate() == []  # still breached, inside the cooldown
    clock.advance(15 * 60)
    [repeat] = alerts.evaluate()  # still breached a cooldown later: one reminder
    assert repeat.status == "firing"
    assert repeat.id != fired.id
    clock.advance(3600)  # the window empties: the condition clears
    [resolved] = alerts.evaluate()
    assert (resolved.status, resolved.key) == ("resolved", fired.key)
    assert alerts.evaluate() == []
    assert (alerts.fired, alerts.resolved) == (2, 1)


def test_a_breach_that_returns_inside_the_cooldown_is_suppressed() -> None:
    clock = Clock()
    alerts = engine(
        "rules: [{name: errs, metric: errors, window: 1m, above: 2, cooldown: 10m}]", clock
    )
    alerts.observe(requests(3, status=500))
    assert [a.status for a in alerts.evaluate()] == ["firing"]
    clock.advance(120)
    assert [a.status for a in alerts.evaluate()] == ["resolved"]
    alerts.observe(requests(3, status=502))
    assert alerts.evaluate() == []
    assert alerts.suppressed == 1
    clock.advance(9 * 60)
    alerts.observe(requests(3, status=503))
    assert [a.status for a in alerts.evaluate()] == ["firing"]


def test_resolved_notices_can_be_turned_off() -> None:
    clock = Clock()
    alerts = engine("{resolved: false, rules: [{name: e, metric: errors, above: 0}]}", clock)
    alerts.observe([request(status=500)])
    assert len(alerts.evaluate()) == 1
    clock.advance(600)
    assert alerts.evaluate() == []
    assert alerts.resolved == 1


BASELINE = """
rules:
  - {name: cost-vs-baseline, metric: cost_usd, window: 1h, above_baseline: 3.0, baseline: 24h}
"""


def _day_of_steady_spend(clock: Clock, alerts: Any) -> None:
    for _ in range(24):  # $1 an hour for a day
        alerts.observe([request(cost_usd=1.0)])
        clock.advance(3600)


def test_cost_against_its_baseline() -> None:
    clock = Clock()
    alerts = engine(BASELINE, clock)
    _day_of_steady_spend(clock, alerts)
    alerts.observe([request(cost_usd=2.0)])  # 2x the usual hour: fine
    clock.advance(1800)
    assert alerts.evaluate() == []
    alerts.observe([request(cost_usd=3.0)])  # $5 this hour: ~5x
    [fired] = alerts.evaluate()
    assert fired.value == pytest.approx(5.0)
    assert fired.baseline is not None
    assert 0.9 < fired.baseline < 1.2
    assert "3x baseline (1d)" in fired.summary


def test_no_baseline_no_verdict() -> None:
    clock = Clock()
    alerts = engine(BASELINE, clock)
    alerts.observe([request(cost_usd=100.0)])  # a fresh engine: no history to compare with
    clock.advance(60)
    assert alerts.evaluate() == []


def test_slow_model_only() -> None:
    clock = Clock()
    text = """
    rules:
      - {name: slow, metric: latency_p95_ms, window: 5m, above: 4000, model: chat}
      - {name: slow-any, metric: latency_p95_ms, window: 5m, above: 4000, by: model}
    """
    alerts = engine(text, clock)
    alerts.observe(requests(50, model="fast", latency_ms=200))
    alerts.observe(requests(18, model="chat", latency_ms=300))
    clock.advance(1)
    assert alerts.evaluate() == []
    alerts.observe(requests(2, model="chat", latency_ms=9000))  # 2 of 20: 10% slow
    fired = alerts.evaluate()
    assert sorted((a.rule, a.subject) for a in fired) == [
        ("slow", "model=chat"),
        ("slow-any", "model=chat"),
    ]
    assert fired[0].value is not None
    assert 9000 <= fired[0].value <= 9000 * 1.05


def test_error_rate_waits_for_min_requests() -> None:
    clock = Clock()
    alerts = engine(
        "rules: [{name: errors, metric: error_rate, window: 5m, above: 0.05, min_requests: 20}]",
        clock,
    )
    alerts.observe(requests(5, status=500) + requests(5))
    assert alerts.evaluate() == []  # 50%, but only 10 requests
    alerts.observe(requests(15))
    [fired] = alerts.evaluate()  # 5 of 25
    assert fired.value == pytest.approx(0.2)
    assert fired.samples == 25
    assert "20%" in fired.summary
    clock.advance(200)
    alerts.observe(requests(10))  # 10 fresh requests: too few to judge, the alert holds
    clock.advance(150)
    assert alerts.evaluate() == []
    clock.advance(300)  # nothing in the window at all: resolved
    assert [a.status for a in alerts.evaluate()] == ["resolved"]


def test_toxicity_and_guard_block_rates_from_findings() -> None:
    clock = Clock()
    text = """
    rules:
      - {name: toxic, metric: toxicity_rate, window: 15m, above: 0.02}
      - {name: blocked, metric: guard_block_rate, window: 15m, above: 0.1}
    """
    alerts = engine(text, clock)
    alerts.observe(requests(97))
    alerts.observe(requests(3, findings=[Finding("guard_out", "toxicity", "flag", 0.9)]))
    assert [a.rule for a in alerts.evaluate()] == ["toxic"]
    alerts.observe(requests(20, findings=[Finding("guard_in", "injection", "block")]))
    assert [a.rule for a in alerts.evaluate()] == ["blocked"]


def test_feedback_score_below() -> None:
    clock = Clock()
    alerts = engine(
        "rules: [{name: unhappy, metric: feedback_score, window: 1h, below: 0.2, "
        "min_requests: 10, feature: search}]",
        clock,
    )
    for _ in range(9):
        alerts.record_feedback(0.0, model="chat", feature="search")
    alerts.record_feedback(1.0, model="chat", feature="other")
    assert alerts.evaluate() == []  # 9 ratings of search
    alerts.record_feedback(0.1, feature="search")
    [fired] = alerts.evaluate()
    assert (fired.subject, fired.samples) == ("feature=search", 10)
    assert fired.value == pytest.approx(0.01)


def test_traffic_drop_fires_on_an_empty_window() -> None:
    clock = Clock()
    alerts = engine("rules: [{name: quiet, metric: requests, window: 10m, below: 1}]", clock)
    alerts.observe([request()])
    assert alerts.evaluate() == []
    clock.advance(601)
    assert [a.rule for a in alerts.evaluate()] == ["quiet"]


EVENTS = """
rules:
  - {name: model-changed, event: model_version_changed, severity: critical}
  - {name: budget, event: "budget_*", cooldown: 1h}
cooldown: 15m
"""


def test_event_rules_fire_per_subject_once_per_cooldown() -> None:
    clock = Clock()
    recorded: list[tuple[str, str, dict[str, Any]]] = []
    alerts = engine(EVENTS, clock, emit=lambda *event: recorded.append(event))
    detail = {"deployment": "openai/gpt-4o", "was": "gpt-4o-2024-08-06", "now": "gpt-4o-x"}
    [fired] = alerts.on_event("model_version_changed", "chat", detail)
    assert (fired.kind, fired.event, fired.severity) == (
        "event",
        "model_version_changed",
        "critical",
    )
    assert fired.detail == detail
    assert "was=gpt-4o-2024-08-06" in fired.summary
    assert alerts.on_event("model_version_changed", "chat", detail) == []
    assert len(alerts.on_event("model_version_changed", "embed", detail)) == 1
    clock.advance(15 * 60)
    assert len(alerts.on_event("model_version_changed", "chat", detail)) == 1
    assert [a.rule for a in alerts.on_event("budget_threshold", "team:ml", {})] == ["budget"]
    clock.advance(30 * 60)
    assert alerts.on_event("budget_threshold", "team:ml", {}) == []  # a 1h cooldown
    assert alerts.on_event("drill_failed", "failover paths", {}) == []
    assert alerts.on_event("alert", "x", {}) == []  # alerts never raise alerts
    assert alerts.suppressed == 2
    assert [(kind, subject) for kind, subject, _ in recorded] == [
        ("alert", "model-changed/chat"),
        ("alert", "model-changed/embed"),
        ("alert", "model-changed/chat"),
        ("alert", "budget/team:ml"),
    ]
    assert recorded[0][2]["rule"] == "model-changed"


def test_disabled_alerts_do_nothing() -> None:
    clock = Clock()
    alerts = engine("{enabled: false, rules: [{name: e, metric: errors, above: 0}]}", clock)
    alerts.observe([request(status=500)])
    assert alerts.evaluate() == []


def test_reload_keeps_history_and_state_of_unchanged_rules() -> None:
    clock = Clock()
    alerts = engine(COST, clock)
    alerts.observe(requests(3, cost_usd=10.0))
    assert len(alerts.evaluate()) == 1
    alerts.configure(alerts_config(COST + "resolved: true\n"))
    clock.advance(5)
    assert alerts.evaluate() == []  # same history, same cooldown
    alerts.configure(alerts_config("rules: []"))
    assert alerts.evaluate() == []
