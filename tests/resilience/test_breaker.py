from __future__ import annotations

from proctor.config import BreakerConfig
from proctor.resilience.breaker import MemoryBreakers, State


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


CONFIG = BreakerConfig(consecutive_failures=3, min_requests=10, failure_rate=0.5, cooldown_s=5)


def test_opens_after_consecutive_failures_and_blocks() -> None:
    board = MemoryBreakers(Clock())
    for _ in range(2):
        board.record("d", CONFIG, False)
    assert board.allow("d", CONFIG)
    board.record("d", CONFIG, False)
    assert board.state("d") is State.OPEN
    assert not board.allow("d", CONFIG)


def test_half_open_lets_exactly_one_probe_and_closes_on_success() -> None:
    clock = Clock()
    board = MemoryBreakers(clock)
    for _ in range(3):
        board.record("d", CONFIG, False)
    clock.now += 5.1
    assert board.allow("d", CONFIG)
    assert board.state("d") is State.HALF_OPEN
    assert not board.allow("d", CONFIG)  # the probe is in flight
    board.record("d", CONFIG, True)
    assert board.state("d") is State.CLOSED
    assert board.allow("d", CONFIG)


def test_failed_probe_reopens_for_another_cooldown() -> None:
    clock = Clock()
    board = MemoryBreakers(clock)
    for _ in range(3):
        board.record("d", CONFIG, False)
    clock.now += 6
    assert board.allow("d", CONFIG)
    board.record("d", CONFIG, False)
    assert board.state("d") is State.OPEN
    clock.now += 4
    assert not board.allow("d", CONFIG)
    clock.now += 2
    assert board.allow("d", CONFIG)


def test_failure_rate_over_the_window_opens_without_a_streak() -> None:
    clock = Clock()
    board = MemoryBreakers(clock)
    for i in range(10):
        board.record("d", CONFIG, i % 2 == 0)  # alternate: never 3 failures in a row
        clock.now += 0.1
    assert board.state("d") is State.OPEN


def test_old_outcomes_leave_the_window() -> None:
    clock = Clock()
    board = MemoryBreakers(clock)
    for _ in range(9):
        board.record("d", CONFIG, True)
    for _ in range(2):
        board.record("d", CONFIG, False)
    clock.now += 31  # everything above is now outside the 30 s window
    for _ in range(9):
        board.record("d", CONFIG, True)
    board.record("d", CONFIG, False)
    assert board.state("d") is State.CLOSED


def test_disabled_breaker_never_opens() -> None:
    board = MemoryBreakers(Clock())
    config = BreakerConfig(enabled=False, consecutive_failures=1)
    for _ in range(10):
        board.record("d", config, False)
    assert board.allow("d", config)
