"""The `alerts` section: where alerts go (sinks) and what raises them (rules).

    alerts:
      sinks:
        - {type: webhook, url: "https://hooks.example/x", headers: {Authorization: "Bearer ..."}}
        - {type: slack, url: "https://hooks.slack.com/services/..."}
        - {type: log}
      rules:
        - {name: errors, metric: error_rate, window: 5m, above: 0.05, min_requests: 20}
        - {name: cost-vs-baseline, metric: cost_usd, window: 1h, above_baseline: 3, baseline: 24h}
        - {name: budget, event: budget_threshold}
      cooldown: 15m

Durations are `30s`, `5m`, `1h`, `2d`, `1w` (or a number of seconds). The cross-field rules
live in alert_checks.py; the structs are kept apart from schema.py only so that this section
can grow without touching the shared file.
"""

from __future__ import annotations

import math
import re
from typing import Literal

import msgspec

Duration = str | float

AlertMetric = Literal[
    "requests",
    "errors",
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "cost_usd",
    "guard_block_rate",
    "toxicity_rate",
    "refusal_rate",
    "feedback_score",
]
Severity = Literal["info", "warning", "critical"]
LabelDimension = Literal["model", "feature"]


class _Part(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class _SinkBase(_Part, frozen=True, tag_field="type"):
    # Rules route to sinks by name; the default name is the type ("webhook", "slack", "log").
    name: str | None = None

    @property
    def label(self) -> str:
        tag = self.__struct_config__.tag
        return self.name or (tag if isinstance(tag, str) else type(self).__name__)


class _HttpSinkBase(_SinkBase, frozen=True, kw_only=True):
    url: str
    headers: dict[str, str] = {}
    timeout_s: float = 5.0  # per attempt
    retries: int = 1  # attempts after the first, on a timeout, connection error, 429 or 5xx
    backoff_s: float = 1.0  # doubled after each retry


class WebhookSinkConfig(_HttpSinkBase, frozen=True, tag="webhook"):
    """POST the alert as a JSON object."""


class SlackSinkConfig(_HttpSinkBase, frozen=True, tag="slack"):
    """POST `{"text": ..., "blocks": [...]}` (Slack incoming webhooks, Mattermost, Rocket.Chat)."""


class LogSinkConfig(_SinkBase, frozen=True, tag="log"):
    level: Literal["info", "warning", "error"] = "warning"


AlertSinkConfig = WebhookSinkConfig | SlackSinkConfig | LogSinkConfig


class AlertRuleConfig(_Part, frozen=True, kw_only=True):
    """A metric rule (`metric` + a condition over `window`) or an event rule (`event`).

    Conditions combine with AND: `{above: 5, above_baseline: 3}` fires only when the value is
    over 5 *and* over three times its baseline.
    """

    name: str
    metric: AlertMetric | None = None
    event: str | None = None  # an event kind, or a glob of kinds ("budget_*")
    window: Duration = "5m"
    above: float | None = None
    below: float | None = None
    above_baseline: float | None = None  # ratio to the same metric over `baseline`
    below_baseline: float | None = None
    baseline: Duration = "24h"  # the span before the window that the ratio compares with
    # Fewer samples in the window than this (requests; ratings for feedback_score): no verdict.
    min_requests: int = 0
    model: str | None = None  # only this public model
    feature: str | None = None  # only this feature tag
    by: LabelDimension | None = None  # one alert subject per model (or feature)
    cooldown: Duration | None = None  # default: alerts.cooldown
    severity: Severity = "warning"
    sinks: tuple[str, ...] = ()  # sink names; empty: every sink


class AlertsConfig(_Part, frozen=True):
    enabled: bool = True
    sinks: list[AlertSinkConfig] = []  # none: alerts go to the log
    rules: list[AlertRuleConfig] = []
    cooldown: Duration = "15m"
    evaluate_every: Duration = "5s"
    resolved: bool = True  # also notify when a metric rule's condition clears
    max_labels: int = 100  # distinct models (and features) tracked; the rest count as "other"
    max_pending: int = 1000  # deliveries in flight before new ones are dropped (and counted)


_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d|w)?\s*", re.ASCII)
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def duration_s(value: Duration) -> float:
    """`90s`, `5m`, `1.5h`, `2d`, `1w`, or a number of seconds -> seconds (ValueError if not)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(str(value))
        if match is None:
            raise ValueError(f"must be a duration like 30s, 5m, 1h, 2d (or seconds), got {value!r}")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"must be a duration longer than zero, got {value!r}")
    return seconds


def describe_duration(seconds: float) -> str:
    """The shortest exact spelling: 300 -> `5m`, 5400 -> `90m`, 86400 -> `1d`."""
    for unit in ("w", "d", "h", "m", "s"):
        count = seconds / _UNIT_S[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    return f"{seconds:g}s"
