"""Cross-field checks of the `alerts` section; every error names the key."""

from __future__ import annotations

from proctor.config.alerts import (
    AlertRuleConfig,
    AlertsConfig,
    Duration,
    LogSinkConfig,
    duration_s,
)
from proctor.config.schema import ConfigError

# Series are kept at most this far back (window + baseline of the longest rule).
MAX_SPAN_S = 30 * 86400.0
_THRESHOLDS = ("above", "below", "above_baseline", "below_baseline")
_METRIC_ONLY = (*_THRESHOLDS, "model", "feature", "by")


def _duration(value: Duration, where: str) -> float:
    try:
        return duration_s(value)
    except ValueError as exc:
        raise ConfigError(f"`{where}` {exc}") from None


def check_alerts(alerts: AlertsConfig) -> None:
    _duration(alerts.cooldown, "$.alerts.cooldown")
    _duration(alerts.evaluate_every, "$.alerts.evaluate_every")
    for field in ("max_labels", "max_pending"):
        if getattr(alerts, field) <= 0:
            raise ConfigError(f"`$.alerts.{field}` must be positive, got {getattr(alerts, field)}")
    names = _check_sinks(alerts)
    seen: set[str] = set()
    for i, rule in enumerate(alerts.rules):
        where = f"$.alerts.rules[{i}]"
        if not rule.name.strip():
            raise ConfigError(f"`{where}.name` must not be empty")
        if rule.name in seen:
            raise ConfigError(f"`{where}.name` '{rule.name}' is used by an earlier rule")
        seen.add(rule.name)
        if rule.cooldown is not None:
            _duration(rule.cooldown, f"{where}.cooldown")
        for j, sink in enumerate(rule.sinks):
            if sink not in names:
                known = ", ".join(sorted(names)) or "none configured"
                raise ConfigError(f"`{where}.sinks[{j}]` names unknown sink '{sink}' ({known})")
        if rule.event is not None:
            _check_event_rule(rule, where)
        else:
            _check_metric_rule(rule, where)


def _check_sinks(alerts: AlertsConfig) -> set[str]:
    names: set[str] = set()
    for i, sink in enumerate(alerts.sinks):
        where = f"$.alerts.sinks[{i}]"
        if sink.label in names:
            raise ConfigError(
                f"`{where}.name` '{sink.label}' is already taken by another sink; "
                "give each sink of the same type its own `name`"
            )
        names.add(sink.label)
        if isinstance(sink, LogSinkConfig):
            continue
        if not sink.url.startswith(("http://", "https://")):
            raise ConfigError(f"`{where}.url` must start with http:// or https://")
        if sink.timeout_s <= 0:
            raise ConfigError(f"`{where}.timeout_s` must be positive, got {sink.timeout_s}")
        if not 0 <= sink.retries <= 10:
            raise ConfigError(f"`{where}.retries` must be between 0 and 10, got {sink.retries}")
        if sink.backoff_s < 0:
            raise ConfigError(f"`{where}.backoff_s` must be 0 or more, got {sink.backoff_s}")
    return names


def _check_event_rule(rule: AlertRuleConfig, where: str) -> None:
    if rule.metric is not None:
        raise ConfigError(f"`{where}` sets both `metric` and `event`; a rule watches one")
    if not rule.event or not rule.event.strip():
        raise ConfigError(f"`{where}.event` must name an event kind")
    if rule.event == "alert":
        raise ConfigError(f"`{where}.event` cannot be `alert`: alerts would raise alerts")
    for field in _METRIC_ONLY:
        if getattr(rule, field) is not None:
            raise ConfigError(f"`{where}.{field}` applies to metric rules only")
    if rule.min_requests:
        raise ConfigError(f"`{where}.min_requests` applies to metric rules only")


def _check_metric_rule(rule: AlertRuleConfig, where: str) -> None:
    if rule.metric is None:
        raise ConfigError(f"`{where}` needs `metric` (what to watch) or `event`")
    if all(getattr(rule, field) is None for field in _THRESHOLDS):
        raise ConfigError(
            f"`{where}` needs a condition: above, below, above_baseline or below_baseline"
        )
    window = _duration(rule.window, f"{where}.window")
    span = window
    for field in ("above_baseline", "below_baseline"):
        ratio = getattr(rule, field)
        if ratio is not None:
            if ratio <= 0:
                raise ConfigError(f"`{where}.{field}` must be a positive ratio, got {ratio}")
            span = window + _duration(rule.baseline, f"{where}.baseline")
    if span > MAX_SPAN_S:
        raise ConfigError(f"`{where}.window` plus `baseline` must be at most 30 days")
    if rule.min_requests < 0:
        raise ConfigError(f"`{where}.min_requests` must be 0 or more, got {rule.min_requests}")
    scoped = [f for f in ("model", "feature", "by") if getattr(rule, f) is not None]
    if len(scoped) > 1:
        raise ConfigError(
            f"`{where}.{scoped[1]}` cannot be combined with `{scoped[0]}`: a rule watches "
            "everything, one model, one feature, or each model (each feature) separately"
        )
