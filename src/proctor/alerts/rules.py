"""Alert rules, compiled from config: which series they read and when they hold.

A metric rule reads one metric over its window, for everything, one label (`model: chat`), or
each label of a dimension (`by: model`), and gives a verdict:

- `firing`: every condition holds (conditions combine with AND);
- `clear`: some condition does not hold, or the window has no samples at all;
- `hold`: too few samples to say (under `min_requests`), or no baseline yet; an alert that is
  firing stays firing and one that is not is not raised.

A baseline is the same metric over the span before the window (`baseline: 24h`), scaled to
the window's length for sums (requests, errors, cost), as is for rates, percentiles and
scores. It needs at least one window's worth of history (series live in memory, so after a
restart a baseline rule waits), and a baseline of zero is not compared with.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from proctor.alerts.payload import Alert, Status, format_value, new_id, subject_of
from proctor.alerts.series import ALL, Bucket, Label, Series, SeriesStore
from proctor.config.alerts import AlertRuleConfig, describe_duration, duration_s

Verdict = Literal["firing", "clear", "hold"]
ADDITIVE = frozenset({"requests", "errors", "cost_usd"})


def metric_value(metric: str, totals: Bucket) -> float | None:
    """The metric over a window's totals; None when it is undefined (no samples)."""
    if metric in ADDITIVE:
        return float(getattr(totals, metric))
    if metric == "feedback_score":
        return totals.feedback_sum / totals.feedback_n if totals.feedback_n else None
    if totals.requests == 0:
        return None
    if metric == "error_rate":
        return totals.errors / totals.requests
    if metric == "guard_block_rate":
        return totals.blocked / totals.requests
    if metric == "toxicity_rate":
        return totals.toxic / totals.requests
    if metric == "refusal_rate":
        return totals.refused / totals.requests
    if metric.startswith("latency_p"):
        return totals.percentile_ms(float(metric.removeprefix("latency_p").removesuffix("_ms")))
    raise ValueError(f"unknown metric {metric!r}")


def sample_count(metric: str, totals: Bucket) -> int:
    return totals.feedback_n if metric == "feedback_score" else totals.requests


@dataclass(frozen=True, slots=True)
class Check:
    verdict: Verdict
    value: float | None = None
    baseline: float | None = None
    samples: int = 0


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    metric: str | None
    event: str | None
    window_s: float
    baseline_s: float | None  # set when a condition compares with the baseline
    above: float | None
    below: float | None
    above_baseline: float | None
    below_baseline: float | None
    min_requests: int
    scope: Label | None  # ("model", "chat"): only that label
    by: str | None  # "model": every label of the dimension
    cooldown_s: float
    severity: str
    sinks: tuple[str, ...]

    @classmethod
    def compile(cls, config: AlertRuleConfig, default_cooldown_s: float) -> Rule:
        relative = config.above_baseline is not None or config.below_baseline is not None
        scope: Label | None = None
        if config.model is not None:
            scope = ("model", config.model)
        elif config.feature is not None:
            scope = ("feature", config.feature)
        return cls(
            name=config.name,
            metric=config.metric,
            event=config.event,
            window_s=duration_s(config.window),
            baseline_s=duration_s(config.baseline) if relative else None,
            above=config.above,
            below=config.below,
            above_baseline=config.above_baseline,
            below_baseline=config.below_baseline,
            min_requests=config.min_requests,
            scope=scope,
            by=config.by,
            cooldown_s=(
                duration_s(config.cooldown) if config.cooldown is not None else default_cooldown_s
            ),
            severity=config.severity,
            sinks=config.sinks,
        )

    @property
    def reach_s(self) -> float:
        """How far back this rule reads."""
        return self.window_s + (self.baseline_s or 0.0)

    @property
    def dimension(self) -> str | None:
        return self.by or (self.scope[0] if self.scope else None)

    def matches_event(self, kind: str) -> bool:
        return self.event is not None and fnmatch.fnmatchcase(kind, self.event)

    def targets(self, store: SeriesStore) -> list[Label]:
        if self.by is not None:
            return store.labels(self.by)
        return [self.scope or ALL]

    def check(self, series: Series | None, now: float) -> Check:
        metric = self.metric
        if series is None or metric is None:
            return Check("clear")
        current, _ = series.window(now - self.window_s, now)
        samples = sample_count(metric, current)
        value = metric_value(metric, current)
        if value is None or samples < self.min_requests:
            return Check("clear" if samples == 0 else "hold", value, None, samples)
        base: float | None = None
        if self.baseline_s is not None:
            base = self._baseline(metric, self.baseline_s, series, now)
            if base is None or base <= 0:
                return Check("hold", value, base, samples)
        return Check("firing" if self._holds(value, base) else "clear", value, base, samples)

    def _baseline(self, metric: str, span_s: float, series: Series, now: float) -> float | None:
        end = now - self.window_s
        prior, covered = series.before(end - span_s, end, now)
        if covered < self.window_s:
            return None
        value = metric_value(metric, prior)
        if value is not None and metric in ADDITIVE:
            value *= self.window_s / covered
        return value

    def _holds(self, value: float, base: float | None) -> bool:
        held: list[bool] = []
        if self.above is not None:
            held.append(value > self.above)
        if self.below is not None:
            held.append(value < self.below)
        if base is not None and self.above_baseline is not None:
            held.append(value > self.above_baseline * base)
        if base is not None and self.below_baseline is not None:
            held.append(value < self.below_baseline * base)
        return bool(held) and all(held)

    def condition(self) -> str:
        """`above 5%`, `below 0.2 and above 3x baseline (24h)`; event rules: `event kind`."""
        if self.event is not None:
            return f"event {self.event}"
        parts = []
        if self.above is not None:
            parts.append(f"above {format_value(self.metric, self.above)}")
        if self.below is not None:
            parts.append(f"below {format_value(self.metric, self.below)}")
        for word, ratio in (("above", self.above_baseline), ("below", self.below_baseline)):
            if ratio is not None:
                parts.append(
                    f"{word} {ratio:g}x baseline ({describe_duration(self.baseline_s or 0)})"
                )
        return " and ".join(parts)

    def scope_text(self) -> str:
        if self.by is not None:
            return f"each {self.by}"
        return subject_of(self.scope) if self.scope else "all"


def metric_alert(rule: Rule, label: Label, check: Check, status: Status, now: float) -> Alert:
    subject = subject_of(label)
    window = describe_duration(rule.window_s)
    value = format_value(rule.metric, check.value)
    if status == "firing":
        summary = f"{rule.name}: {rule.metric} is {value} over {window} on {subject}"
        summary += f" ({rule.condition()}"
        if check.baseline is not None:
            summary += f"; baseline {format_value(rule.metric, check.baseline)}"
        summary += ")"
    else:
        summary = f"resolved {rule.name}: {rule.metric} is {value} over {window} on {subject}"
    return Alert(
        id=new_id(),
        key=f"{rule.name}/{subject}",
        rule=rule.name,
        status=status,
        severity=rule.severity,
        subject=subject,
        summary=summary,
        at=now,
        kind="metric",
        metric=rule.metric,
        value=_finite(check.value),
        condition=rule.condition(),
        baseline=_finite(check.baseline),
        window_s=rule.window_s,
        samples=check.samples,
    )


def event_alert(rule: Rule, kind: str, subject: str, detail: dict[str, Any], now: float) -> Alert:
    facts = ", ".join(f"{k}={v}" for k, v in detail.items() if not isinstance(v, dict | list))
    summary = f"{rule.name}: {kind} on {subject}" + (f" ({facts[:300]})" if facts else "")
    return Alert(
        id=new_id(),
        key=f"{rule.name}/{subject}",
        rule=rule.name,
        status="firing",
        severity=rule.severity,
        subject=subject,
        summary=summary,
        at=now,
        kind="event",
        event=kind,
        detail=detail,
    )


def sample_alert(rule: Rule | None, now: float) -> Alert:
    """What `proctor alerts test` sends: shaped like the rule's alerts, marked as a test."""
    if rule is None:
        rule = Rule.compile(AlertRuleConfig(name="test", event="test"), 0.0)
    if rule.event is not None:
        alert = event_alert(rule, rule.event, "test", {"note": "a test alert from proctor"}, now)
    else:
        label = rule.scope or (("model", "example") if rule.by == "model" else ALL)
        value = 1.0
        if rule.above is not None:
            value = rule.above * 1.5 or 1.0
        elif rule.below is not None:
            value = rule.below / 2
        check = Check("firing", value, None, max(rule.min_requests, 100))
        alert = metric_alert(rule, label, check, "firing", now)
    return msgspec.structs.replace(alert, summary=f"[test] {alert.summary}", test=True)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
