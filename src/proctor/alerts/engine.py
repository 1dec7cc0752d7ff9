"""The alert engine: series fed off the request path, rules evaluated on a timer, events
turned into alerts as they are emitted, alerts sent in the background.

    engine = AlertEngine(config.alerts, emit=gateway.emit)
    writer.observers.append(engine.observe)   # finished requests, in the writer's loop
    engine.record_feedback(0.0, model="chat", feature="search")
    engine.on_event("budget_threshold", "team:ml", {...})   # from Gateway.emit
    engine.start()  ...  await engine.close()

Cooldown: an alert fires at most once per cooldown for each (rule, subject). A metric rule
that stays firing repeats once per cooldown; when its condition clears, a `resolved` notice
goes out (unless `alerts.resolved` is false) and a new breach fires again once the cooldown
since the last notice has passed. Event rules have no condition to clear, so no `resolved`.

Every alert is also recorded as an `alert` event through `emit`, so the dashboard lists it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from proctor.alerts.dispatch import Dispatcher
from proctor.alerts.payload import Alert, subject_of
from proctor.alerts.rules import Check, Rule, event_alert, metric_alert
from proctor.alerts.series import Label, Sample, SeriesStore, levels_for
from proctor.config.alerts import AlertsConfig, LogSinkConfig, duration_s
from proctor.context import Context
from proctor.resilience.paths import Scheduler

log = logging.getLogger("proctor.alerts")

Emit = Callable[[str, str, dict[str, Any]], None]

_MAX_STATES = 10_000


@dataclass(slots=True)
class _State:
    active: bool = False
    last_fired: float | None = None


def sample_of(ctx: Context) -> Sample:
    return Sample(
        error=ctx.status >= 500,
        latency_ms=ctx.latency_ms,
        cost_usd=ctx.cost_usd or 0.0,
        blocked=any(f.action == "block" for f in ctx.findings),
        toxic=any(f.rule.startswith("toxicity") for f in ctx.findings),
        refused=any(f.rule == "refusal" for f in ctx.findings),
    )


def model_of(ctx: Context) -> str | None:
    return ctx.public_model or getattr(ctx.request, "model", None) or None


class AlertEngine:
    def __init__(
        self,
        config: AlertsConfig | None = None,
        *,
        emit: Emit | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self._emit = emit
        self.dispatcher = Dispatcher()
        self.store: SeriesStore | None = None
        self.rules: list[Rule] = []
        self._metric_rules: list[Rule] = []
        self._event_rules: list[Rule] = []
        self._states: dict[tuple[str, str], _State] = {}
        self._job: Scheduler | None = None
        self._started = False
        self.fired = 0
        self.resolved = 0
        self.suppressed = 0  # breaches and events inside a cooldown, not sent
        self.configure(config if config is not None else AlertsConfig())

    # -- configuration ---------------------------------------------------------------------

    def configure(self, config: AlertsConfig) -> None:
        """Apply a (re)loaded `alerts` section; the evaluation timer follows on `reload`."""
        self.config = config
        cooldown = duration_s(config.cooldown)
        self.rules = [Rule.compile(r, cooldown) for r in config.rules] if config.enabled else []
        self._metric_rules = [r for r in self.rules if r.metric is not None]
        self._event_rules = [r for r in self.rules if r.event is not None]
        self.evaluate_every_s = duration_s(config.evaluate_every)
        levels = levels_for(max((r.reach_s for r in self._metric_rules), default=0.0))
        dimensions = {r.dimension for r in self._metric_rules if r.dimension is not None}
        if self.store is None or self.store.levels != levels:
            self.store = SeriesStore(levels, dimensions, config.max_labels)
        else:  # history is kept across reloads that need no other resolution
            self.store.dimensions = frozenset(dimensions)
            self.store.max_labels = config.max_labels
        self.dispatcher.configure(config.sinks or [LogSinkConfig()], config.max_pending)
        names = {rule.name for rule in self.rules}
        self._states = {k: v for k, v in self._states.items() if k[0] in names}

    async def reload(self, config: AlertsConfig) -> None:
        self.configure(config)
        if self._started:
            await self._stop_job()
            self._start_job()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._started = True
        self._start_job()

    def _start_job(self) -> None:
        if self._metric_rules:
            self._job = Scheduler("alerts", self.evaluate_every_s, self.evaluate)
            self._job.start()

    async def _stop_job(self) -> None:
        if self._job is not None:
            await self._job.stop()
            self._job = None

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop evaluating; give deliveries in flight up to `timeout_s` to finish."""
        self._started = False
        await self._stop_job()
        await self.dispatcher.close(timeout_s)

    # -- inputs (never on the request path, never raise) -----------------------------------

    def observe(self, contexts: Sequence[Context]) -> None:
        """A BatchWriter observer: finished requests into the series."""
        if not self._metric_rules or self.store is None:
            return
        now = self.clock()
        for ctx in contexts:
            self.store.add(now, sample_of(ctx), model_of(ctx), ctx.tags.feature)

    def record_feedback(
        self, score: float, model: str | None = None, feature: str | None = None
    ) -> None:
        """A user rating of a request (the feedback_score metric averages these)."""
        if self._metric_rules and self.store is not None and math.isfinite(score):
            self.store.add_feedback(self.clock(), float(score), model, feature)

    def on_event(self, kind: str, subject: str, detail: dict[str, Any]) -> list[Alert]:
        """An operational event (Gateway.emit): event rules fire on it, cooldown permitting."""
        if kind == "alert" or not self._event_rules:
            return []
        try:
            return self._on_event(kind, subject, detail)
        except Exception:  # the emitter must never fail because of an alert
            log.exception("alert rules failed on event %s", kind)
            return []

    def _on_event(self, kind: str, subject: str, detail: dict[str, Any]) -> list[Alert]:
        now = self.clock()
        fired: list[tuple[Rule, Alert]] = []
        for rule in self._event_rules:
            if not rule.matches_event(kind):
                continue
            state = self._state(rule.name, subject)
            if state.last_fired is not None and now - state.last_fired < rule.cooldown_s:
                self.suppressed += 1
                continue
            state.last_fired = now
            self.fired += 1
            fired.append((rule, event_alert(rule, kind, subject, detail, now)))
        self._send(fired)
        return [alert for _, alert in fired]

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(self, now: float | None = None) -> list[Alert]:
        """One pass over every metric rule and subject; sends and answers the alerts raised."""
        if self.store is None:
            return []
        now = self.clock() if now is None else now
        raised: list[tuple[Rule, Alert]] = []
        for rule in self._metric_rules:
            for label in rule.targets(self.store):
                check = rule.check(self.store.series(label), now)
                alert = self._transition(rule, label, check, now)
                if alert is not None:
                    raised.append((rule, alert))
        self._send(raised)
        return [alert for _, alert in raised]

    def _transition(self, rule: Rule, label: Label, check: Check, now: float) -> Alert | None:
        key = (rule.name, subject_of(label))
        if check.verdict == "firing":
            state = self._state(*key)
            if state.last_fired is not None and now - state.last_fired < rule.cooldown_s:
                if not state.active:
                    self.suppressed += 1
                return None
            state.active, state.last_fired = True, now
            self.fired += 1
            return metric_alert(rule, label, check, "firing", now)
        state_or_none = self._states.get(key)
        if check.verdict == "clear" and state_or_none is not None and state_or_none.active:
            state_or_none.active = False
            self.resolved += 1
            if self.config.resolved:
                return metric_alert(rule, label, check, "resolved", now)
        return None

    def _state(self, rule: str, subject: str) -> _State:
        state = self._states.get((rule, subject))
        if state is None:
            if len(self._states) >= _MAX_STATES:
                self._forget_idle()
            state = self._states[(rule, subject)] = _State()
        return state

    def _forget_idle(self) -> None:
        """Bound the state table: drop the inactive half, the longest quiet first."""
        idle = sorted(
            (k for k, s in self._states.items() if not s.active),
            key=lambda k: self._states[k].last_fired or 0.0,
        )
        for key in idle[: max(1, len(idle) // 2)]:
            del self._states[key]

    def _send(self, raised: Sequence[tuple[Rule, Alert]]) -> None:
        for rule, alert in raised:
            if self._emit is not None:
                try:
                    self._emit("alert", alert.key, msgspec.to_builtins(alert))
                except Exception:
                    log.exception("recording alert %s failed", alert.key)
            self.dispatcher.dispatch(alert, rule.sinks)
