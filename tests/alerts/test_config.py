"""The `alerts` section: defaults, durations, and errors that name the key."""

from __future__ import annotations

import pytest

from proctor import config as config_mod
from proctor.config import ConfigError, duration_s
from proctor.config.alerts import describe_duration

ISSUE_EXAMPLE = """
alerts:
  sinks:
    - {type: webhook, url: "https://hooks.example/x", headers: {Authorization: "Bearer x"}}
    - {type: slack, url: "https://hooks.slack.com/services/T/B/x"}
    - {type: log}
  rules:
    - {name: cost-spike, metric: cost_usd, window: 1h, above: 25}
    - {name: cost-vs-baseline, metric: cost_usd, window: 1h, above_baseline: 3.0, baseline: 24h}
    - {name: slow, metric: latency_p95_ms, window: 5m, above: 4000, model: chat}
    - {name: errors, metric: error_rate, window: 5m, above: 0.05, min_requests: 20}
    - {name: toxic, metric: toxicity_rate, window: 15m, above: 0.02}
    - {name: unhappy, metric: feedback_score, window: 1h, below: 0.2, min_requests: 10}
    - {name: model-changed, event: model_version_changed}
    - {name: budget, event: budget_threshold}
  cooldown: 15m
"""


def test_the_issue_example_parses() -> None:
    alerts = config_mod.parse(ISSUE_EXAMPLE).alerts
    assert [s.label for s in alerts.sinks] == ["webhook", "slack", "log"]
    assert len(alerts.rules) == 8
    assert config_mod.default_config().alerts.rules == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1.5h", 5400), ("2d", 172800), ("1w", 604800), (90, 90)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert duration_s(text) == seconds


def test_durations_are_described_shortest_first() -> None:
    assert [describe_duration(s) for s in (300, 5400, 86400, 0.5)] == ["5m", "90m", "1d", "0.5s"]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("{cooldown: forever}", "$.alerts.cooldown"),
        ("{evaluate_every: 0}", "$.alerts.evaluate_every"),
        ("{max_labels: 0}", "$.alerts.max_labels"),
        ("{sinks: [{type: pager, url: 'https://x'}]}", "$.alerts.sinks[0].type"),
        ("{sinks: [{type: webhook}]}", "$.alerts.sinks[0]"),
        ("{sinks: [{type: webhook, url: 'ftp://x'}]}", "$.alerts.sinks[0].url"),
        ("{sinks: [{type: slack, url: 'https://x', timeout_s: 0}]}", "$.alerts.sinks[0].timeout_s"),
        ("{sinks: [{type: slack, url: 'https://x', retries: 99}]}", "$.alerts.sinks[0].retries"),
        ("{sinks: [{type: log}, {type: log}]}", "$.alerts.sinks[1].name"),
        ("{rules: [{metric: errors, above: 1}]}", "$.alerts.rules[0]"),
        ("{rules: [{name: a, metric: errors}]}", "$.alerts.rules[0]"),
        ("{rules: [{name: a, metric: cost, above: 1}]}", "$.alerts.rules[0].metric"),
        (
            "{rules: [{name: a, metric: errors, above: 1, window: 5 min}]}",
            "$.alerts.rules[0].window",
        ),
        (
            "{rules: [{name: a, metric: errors, above: 1}, {name: a, event: x}]}",
            "$.alerts.rules[1].name",
        ),
        ("{rules: [{name: a, metric: errors, event: drill, above: 1}]}", "$.alerts.rules[0]"),
        ("{rules: [{name: a, event: drill, above: 1}]}", "$.alerts.rules[0].above"),
        ("{rules: [{name: a, event: alert}]}", "$.alerts.rules[0].event"),
        (
            "{rules: [{name: a, metric: errors, above: 1, sinks: [pager]}]}",
            "$.alerts.rules[0].sinks[0]",
        ),
        (
            "{rules: [{name: a, metric: errors, above: 1, model: m, by: feature}]}",
            "$.alerts.rules[0].by",
        ),
        (
            "{rules: [{name: a, metric: cost_usd, above_baseline: 0, baseline: 1d}]}",
            "$.alerts.rules[0].above_baseline",
        ),
        (
            "{rules: [{name: a, metric: cost_usd, above_baseline: 2, baseline: 60d}]}",
            "$.alerts.rules[0].window",
        ),
        ("{rules: [{name: a, metric: errors, above: 1, by: team}]}", "$.alerts.rules[0].by"),
        ("{rules: [{name: a, metric: errors, above: 1, colour: red}]}", "$.alerts.rules[0]"),
    ],
)
def test_errors_name_the_key(section: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_mod.parse(f"alerts: {section}")
    assert f"`{key}" in str(caught.value), str(caught.value)
