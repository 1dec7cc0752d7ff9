"""The anomaly circuit breaker: when guards fire too often for one feature / model, that scope
switches to a safe mode until it recovers or an operator resets it.

Each scope ((feature, model), or one of them, per `guards.anomaly.by`) keeps a sliding window
of guarded requests and of the requests among them with a counted event (`events`: blocks,
toxicity, leaks by default). The window is a ring of `buckets` time buckets, so recording is
O(1) and allocates nothing; its span is between `window_s - window_s/buckets` and `window_s`.

    closed     -> open       the window holds >= min_requests and the share of requests with a
                             counted event is >= threshold; `guard_breaker_open` is emitted.
    open       -> half-open  `recover_after_s` after it opened (checked on `mode` / `record`).
                             The window starts empty and traffic takes the normal path again:
                             outcomes recorded while the safe mode answered say little about
                             the normal path (strict mode blocks more by design, static mode
                             never calls the model), so they are not counted.
    half-open  -> closed     min_requests more requests seen with the rate below threshold;
                             `guard_breaker_closed` is emitted.
    half-open  -> open       the rate crosses the threshold again (after min_requests).
    any        -> closed     `reset` by an operator (`POST /admin/guards/breaker/reset`).

State lives in this process's memory: each replica trips on what it sees itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from proctor.config.guard_ops import AnomalyConfig, SafeModeKind
from proctor.config.guards import GuardsConfig

log = logging.getLogger("proctor.guards")

Emit = Callable[[str, str, dict[str, Any]], None]
BreakerState = Literal["closed", "open", "half_open"]
ANY = "*"  # the part of a scope that is not counted apart (`by: feature` -> model is "*")
NO_FEATURE = "-"  # requests without a feature tag


@dataclass(frozen=True, slots=True)
class SafeMode:
    """What the guard stages do for a scope whose breaker is open.

    strict:   every `flag` action becomes `block`;
    fallback: the request goes to `fallback_model` instead of the model asked for;
    static:   the request is answered with `static_answer`, the provider is not called.
    """

    kind: SafeModeKind
    fallback_model: str | None
    static_answer: str
    feature: str
    model: str
    since: float  # unix time it opened


class _Scope:
    """One scope's window and state. Slots and preallocated lists: nothing allocated per
    recorded request."""

    __slots__ = (
        "events",
        "hits",
        "last",
        "last_seen",
        "opened",
        "requests",
        "safe",
        "state",
        "total",
    )

    def __init__(self, buckets: int) -> None:
        self.total = [0] * buckets
        self.hits = [0] * buckets
        self.requests = 0  # sum of total, kept up to date
        self.events = 0  # sum of hits, kept up to date
        self.last = -1  # bucket index (time // bucket_s) of the latest record
        self.last_seen = 0.0
        self.state: BreakerState = "closed"
        self.opened = 0.0  # monotonic time it opened
        self.safe: SafeMode | None = None

    def clear(self, buckets: int | None = None) -> None:
        n = len(self.total) if buckets is None else buckets
        self.total = [0] * n
        self.hits = [0] * n
        self.requests = self.events = 0
        self.last = -1

    def add(self, index: int, hit: bool) -> None:
        n = len(self.total)
        if index != self.last:
            # Empty the buckets skipped since the latest record (at most the whole ring).
            for i in range(max(self.last + 1, index - n + 1), index + 1):
                slot = i % n
                self.requests -= self.total[slot]
                self.events -= self.hits[slot]
                self.total[slot] = self.hits[slot] = 0
            self.last = index
        slot = index % n
        self.total[slot] += 1
        self.requests += 1
        if hit:
            self.hits[slot] += 1
            self.events += 1


class AnomalyBreaker:
    """Per-scope guard-outcome rates and the safe mode of tripped scopes.

    `record` once per guarded request (with all of its outcomes) and `mode` before handling
    one are both O(1); `mode` is a counter test when no scope is open.
    """

    def __init__(
        self,
        config: AnomalyConfig | None = None,
        *,
        emit: Emit | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._emit = emit
        self._clock = clock
        self._wall = wall
        self._scopes: dict[tuple[str, str], _Scope] = {}
        self._open = 0  # scopes in the open state: `mode`'s fast path
        self._pruned_at = 0.0
        self.dropped = 0  # records not counted because max_scopes scopes were live
        self.config = config if config is not None else AnomalyConfig()
        self._apply(self.config)

    def _apply(self, config: AnomalyConfig) -> None:
        self._events = frozenset(config.events)
        self._bucket_s = config.window_s / config.buckets

    def configure(self, config: AnomalyConfig) -> None:
        """Apply a reloaded config. Open scopes stay open (with the new safe mode); windows
        are emptied when their shape changed; disabling, or a new `by`, closes every scope."""
        old = self.config
        if not config.enabled or config.by != old.by:
            # Scopes keyed the old way mean nothing now: close them, start afresh.
            self.reset(reason="disabled" if not config.enabled else "reconfigured")
            self._scopes.clear()
        self.config = config
        self._apply(config)
        if not config.enabled:
            return
        if (old.window_s, old.buckets) != (config.window_s, config.buckets):
            for scope in self._scopes.values():
                scope.clear(config.buckets)
        for (feature, model), scope in self._scopes.items():
            if scope.safe is not None:
                scope.safe = self._safe_mode(feature, model, scope.safe.since)

    def scope_of(self, feature: str | None, model: str | None) -> tuple[str, str]:
        """The (feature, model) key a request counts under, per `by`."""
        by = self.config.by
        return (
            ANY if by == "model" else feature or NO_FEATURE,
            ANY if by == "feature" else model or ANY,
        )

    def mode(self, feature: str | None, model: str | None) -> SafeMode | None:
        """The safe mode for this request's scope, or None when its breaker is not open."""
        if not self._open:
            return None
        scope = self._scopes.get(self.scope_of(feature, model))
        if scope is None or scope.safe is None:
            return None
        if self._clock() - scope.opened >= self.config.recover_after_s:
            self._half_open(scope, self.scope_of(feature, model))
            return None
        return scope.safe

    def record(self, feature: str | None, model: str | None, *outcomes: str) -> None:
        """Count one guarded request with its outcomes ("ok", "block", "toxicity"...; see
        `proctor.config.guard_ops.Outcome`). Call it once per request, with every outcome of
        every guard stage: the rate is over requests, not over findings."""
        config = self.config
        if not config.enabled:
            return
        key = self.scope_of(feature, model)
        scope = self._scopes.get(key)
        now = self._clock()
        if scope is None:
            scope = self._new_scope(key, now)
            if scope is None:
                return
        scope.last_seen = now
        if scope.state == "open":
            if now - scope.opened < config.recover_after_s:
                return  # answered by the safe mode: not evidence about the normal path
            self._half_open(scope, key)
        hit = False
        for outcome in outcomes:
            if outcome in self._events:
                hit = True
                break
        scope.add(int(now / self._bucket_s), hit)
        requests = scope.requests
        if requests < config.min_requests:
            return
        rate = scope.events / requests
        if rate >= config.threshold:
            self._trip(scope, key, rate, requests)
        elif scope.state == "half_open":
            self._close(scope, key, "recovered", rate, requests)

    def reset(
        self, feature: str | None = None, model: str | None = None, *, reason: str = "reset"
    ) -> list[dict[str, Any]]:
        """Close and empty the scopes of `feature` and/or `model` (every scope when neither
        is given); returns the ones that were not closed before."""
        want_feature, want_model = self.scope_of(feature, model)
        keys = [
            key
            for key in self._scopes
            if (feature is None or key[0] == want_feature)
            and (model is None or key[1] == want_model)
        ]
        changed = []
        for key in keys:
            scope = self._scopes.get(key)
            if scope is None:
                continue
            if scope.state != "closed":
                changed.append(self._describe(key, scope))
                self._close(scope, key, reason, None, scope.requests)
            scope.clear()
        return changed

    def snapshot(self) -> list[dict[str, Any]]:
        """Every tracked scope: state, requests and events in the window, rate, safe mode."""
        return [self._describe(key, scope) for key, scope in sorted(self._scopes.items())]

    # --- transitions ----------------------------------------------------------------------

    def _new_scope(self, key: tuple[str, str], now: float) -> _Scope | None:
        if len(self._scopes) >= self.config.max_scopes and not self._prune(now):
            self.dropped += 1
            return None
        scope = self._scopes[key] = _Scope(self.config.buckets)
        return scope

    def _prune(self, now: float) -> bool:
        """Drop closed scopes idle for a whole window; at most once per bucket, so a flood of
        new feature names cannot make every record scan the table."""
        if now - self._pruned_at < self._bucket_s:
            return False
        self._pruned_at = now
        idle = now - self.config.window_s
        for key in [
            k for k, s in self._scopes.items() if s.state == "closed" and s.last_seen < idle
        ]:
            del self._scopes[key]
        return len(self._scopes) < self.config.max_scopes

    def _safe_mode(self, feature: str, model: str, since: float) -> SafeMode:
        config = self.config
        return SafeMode(
            config.safe_mode, config.fallback_model, config.static_answer, feature, model, since
        )

    def _trip(self, scope: _Scope, key: tuple[str, str], rate: float, requests: int) -> None:
        if scope.state != "open":
            self._open += 1
        scope.state = "open"
        scope.opened = self._clock()
        scope.safe = self._safe_mode(*key, self._wall())
        config = self.config
        self._event(
            "guard_breaker_open",
            key,
            {
                "rate": round(rate, 4),
                "threshold": config.threshold,
                "requests": requests,
                "events": scope.events,
                "window_s": config.window_s,
                "counted": list(config.events),
                "safe_mode": config.safe_mode,
            },
        )

    def _half_open(self, scope: _Scope, key: tuple[str, str]) -> None:
        self._open -= 1
        scope.state = "half_open"
        scope.safe = None
        scope.clear()
        log.info("anomaly breaker half-open for %s/%s: watching normal traffic again", *key)

    def _close(
        self,
        scope: _Scope,
        key: tuple[str, str],
        reason: str,
        rate: float | None,
        requests: int,
    ) -> None:
        if scope.state == "open":
            self._open -= 1
        scope.state = "closed"
        scope.safe = None
        detail: dict[str, Any] = {"reason": reason, "requests": requests}
        if rate is not None:
            detail["rate"] = round(rate, 4)
        self._event("guard_breaker_closed", key, detail)

    def _event(self, kind: str, key: tuple[str, str], detail: dict[str, Any]) -> None:
        feature, model = key
        if self._emit is not None:
            self._emit(kind, f"{feature}/{model}", {"feature": feature, "model": model, **detail})

    def _describe(self, key: tuple[str, str], scope: _Scope) -> dict[str, Any]:
        requests = scope.requests
        described: dict[str, Any] = {
            "feature": key[0],
            "model": key[1],
            "state": scope.state,
            "requests": requests,
            "events": scope.events,
            "rate": round(scope.events / requests, 4) if requests else 0.0,
        }
        if scope.safe is not None:
            described["safe_mode"] = scope.safe.kind
            described["since"] = scope.safe.since
            described["recovers_in_s"] = round(
                max(0.0, self.config.recover_after_s - (self._clock() - scope.opened)), 3
            )
        return described


DISABLED = AnomalyConfig(enabled=False)


def anomaly_config(guards: GuardsConfig) -> AnomalyConfig:
    """The breaker's config: opt-in, so without `guards.anomaly` (or with guards off) it is
    disabled; a strict mode nobody asked for would change what a config blocks."""
    if not guards.enabled or guards.anomaly is None:
        return DISABLED
    return guards.anomaly
