"""What an alert is, and how it is written for each kind of sink."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import msgspec

from proctor.alerts.series import ALL, Label

Status = Literal["firing", "resolved"]


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """One notification. The generic webhook receives exactly these fields (plus `at_iso`)."""

    id: str
    key: str  # "rule/subject": shared by a firing alert, its repeats and its resolved notice
    rule: str
    status: Status
    severity: str
    subject: str  # "all", "model=chat", "feature=search", or the event's subject
    summary: str
    at: float  # epoch seconds
    kind: Literal["metric", "event"]
    metric: str | None = None
    value: float | None = None
    condition: str | None = None  # "above 5%", "above 3x baseline"
    baseline: float | None = None  # the baseline value compared with, scaled to the window
    window_s: float | None = None
    samples: int | None = None  # requests (ratings, for feedback_score) in the window
    event: str | None = None  # the event kind, for event rules
    detail: dict[str, Any] = {}
    test: bool = False  # sent by `proctor alerts test`
    source: str = "proctor"


def new_id() -> str:
    return "alt_" + uuid.uuid4().hex[:24]


def subject_of(label: Label) -> str:
    return "all" if label == ALL else f"{label[0]}={label[1]}"


def iso(at: float) -> str:
    return (
        dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


_RATES = frozenset({"error_rate", "guard_block_rate", "toxicity_rate", "refusal_rate"})


def format_value(metric: str | None, value: float | None) -> str:
    """A metric value as a person reads it: 8.3%, 4,210 ms, $25.31, 120."""
    if value is None:
        return "no data"
    if metric in _RATES:
        return f"{value * 100:.3g}%"
    if metric is not None and metric.startswith("latency_"):
        return f"{value:,.0f} ms"
    if metric == "cost_usd":
        return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.4g}"
    if metric in ("requests", "errors"):
        return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
    return f"{value:.3g}"


def webhook_body(alert: Alert) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(alert)
    body["at_iso"] = iso(alert.at)
    return body


_EMOJI = {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}


def _escape(text: str, limit: int) -> str:
    """Slack mrkdwn: &, < and > are control characters; sections hold at most 3000 chars."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fields(alert: Alert) -> list[dict[str, str]]:
    pairs = [("Subject", alert.subject), ("Severity", alert.severity)]
    if alert.kind == "metric":
        pairs.append(("Value", format_value(alert.metric, alert.value)))
        if alert.condition:
            pairs.append(("Condition", alert.condition))
        if alert.baseline is not None:
            pairs.append(("Baseline", format_value(alert.metric, alert.baseline)))
        if alert.samples is not None:
            pairs.append(("Samples", f"{alert.samples:,}"))
    elif alert.event:
        pairs.append(("Event", alert.event))
    return [{"type": "mrkdwn", "text": f"*{k}*\n{_escape(v, 1900)}"} for k, v in pairs]


def slack_body(alert: Alert) -> dict[str, Any]:
    """Slack incoming-webhook shape: `text` (the fallback and notification) and `blocks`."""
    resolved = alert.status == "resolved"
    emoji = ":white_check_mark:" if resolved else _EMOJI.get(alert.severity, ":warning:")
    test = " (test)" if alert.test else ""
    title = f"{'Resolved' if resolved else 'Alert'}: {alert.rule}{test}"
    footer = f"proctor · {iso(alert.at)} · `{_escape(alert.key, 200)}`"
    return {
        "text": f"{emoji} {_escape(alert.summary, 2900)}{test}",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": title[:150], "emoji": True},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": _escape(alert.summary, 2900)}},
            {"type": "section", "fields": _fields(alert)},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]},
        ],
    }
