"""Circuit breakers, one per deployment.

closed -> open      after N consecutive failures, or a failure rate over a sliding window
                    once enough requests were seen;
open -> half-open   after the cooldown; exactly one probe request is let through;
half-open -> closed when the probe succeeds, -> open again when it fails.

While a breaker is open the executor skips its deployment at once, with no added wait.
State lives in memory; `BreakerStore` is the seam for a shared (Redis) store so that all
replicas see one breaker per deployment.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from proctor.config import BreakerConfig


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerStore(Protocol):
    """Where breaker state lives; memory by default, Redis when replicas share it."""

    def allow(self, key: str, config: BreakerConfig) -> bool:
        """May a request go to this deployment now? (Takes the half-open probe slot.)"""

    def record(self, key: str, config: BreakerConfig, ok: bool) -> None: ...

    def state(self, key: str) -> State: ...


@dataclass(slots=True)
class Breaker:
    state: State = State.CLOSED
    consecutive_failures: int = 0
    opened_at: float = 0.0
    probe_in_flight: bool = False
    # (time, ok) of recent outcomes, for the failure rate over the window.
    outcomes: deque[tuple[float, bool]] = field(default_factory=deque)


class MemoryBreakers:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._breakers: dict[str, Breaker] = {}
        self._clock = clock
        self.transitions: list[tuple[str, State]] = []  # recent, for events and tests

    def _get(self, key: str) -> Breaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = Breaker()
        return breaker

    def state(self, key: str) -> State:
        breaker = self._breakers.get(key)
        return breaker.state if breaker else State.CLOSED

    def allow(self, key: str, config: BreakerConfig) -> bool:
        if not config.enabled:
            return True
        breaker = self._get(key)
        if breaker.state is State.CLOSED:
            return True
        if breaker.state is State.OPEN:
            if self._clock() - breaker.opened_at < config.cooldown_s:
                return False
            self._move(key, breaker, State.HALF_OPEN)
        if breaker.probe_in_flight:
            return False
        breaker.probe_in_flight = True
        return True

    def record(self, key: str, config: BreakerConfig, ok: bool) -> None:
        if not config.enabled:
            return
        breaker = self._get(key)
        now = self._clock()
        if breaker.state is State.HALF_OPEN:
            breaker.probe_in_flight = False
            if ok:
                breaker.outcomes.clear()
                breaker.consecutive_failures = 0
                self._move(key, breaker, State.CLOSED)
            else:
                breaker.opened_at = now
                self._move(key, breaker, State.OPEN)
            return
        outcomes = breaker.outcomes
        outcomes.append((now, ok))
        while outcomes and now - outcomes[0][0] > config.window_s:
            outcomes.popleft()
        breaker.consecutive_failures = 0 if ok else breaker.consecutive_failures + 1
        if breaker.state is State.CLOSED and not ok and self._should_open(breaker, config):
            breaker.opened_at = now
            self._move(key, breaker, State.OPEN)

    @staticmethod
    def _should_open(breaker: Breaker, config: BreakerConfig) -> bool:
        if breaker.consecutive_failures >= config.consecutive_failures:
            return True
        seen = len(breaker.outcomes)
        if seen < config.min_requests:
            return False
        failures = sum(1 for _, ok in breaker.outcomes if not ok)
        return failures / seen >= config.failure_rate

    def _move(self, key: str, breaker: Breaker, state: State) -> None:
        breaker.state = state
        self.transitions.append((key, state))
        del self.transitions[:-100]

    def snapshot(self) -> dict[str, str]:
        return {key: b.state.value for key, b in self._breakers.items()}
