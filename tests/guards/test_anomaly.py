"""The anomaly breaker on a fake clock: trips at the threshold and not below, needs
min_requests, slides its window, recovers through half-open, resets, emits events."""

from __future__ import annotations

from typing import Any

import pytest

from proctor.config.guard_ops import AnomalyConfig
from proctor.guards.anomaly import AnomalyBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Events = list[tuple[str, str, dict[str, Any]]]


def _breaker(**overrides: Any) -> tuple[AnomalyBreaker, Clock, Events]:
    fields: dict[str, Any] = {
        "window_s": 10.0,
        "buckets": 10,
        "min_requests": 10,
        "threshold": 0.5,
        "recover_after_s": 30.0,
    }
    fields.update(overrides)
    clock, events = Clock(), []
    breaker = AnomalyBreaker(
        AnomalyConfig(**fields),
        emit=lambda kind, subject, detail: events.append((kind, subject, detail)),
        clock=clock,
        wall=clock,
    )
    return breaker, clock, events


def _feed(breaker: AnomalyBreaker, bad: int, good: int, feature: str = "chat") -> None:
    for _ in range(bad):
        breaker.record(feature, "m", "block")
    for _ in range(good):
        breaker.record(feature, "m", "ok")


def test_trips_at_the_threshold() -> None:
    breaker, _, events = _breaker()
    _feed(breaker, bad=5, good=5)
    mode = breaker.mode("chat", "m")
    assert mode is not None
    assert (mode.kind, mode.feature, mode.model) == ("strict", "chat", "m")
    assert [e[:2] for e in events] == [("guard_breaker_open", "chat/m")]
    detail = events[0][2]
    assert detail["rate"] == 0.5
    assert detail["requests"] == 10
    assert detail["events"] == 5


def test_does_not_trip_below_the_threshold() -> None:
    breaker, _, events = _breaker()
    _feed(breaker, bad=4, good=6)
    assert breaker.mode("chat", "m") is None
    assert events == []


def test_min_requests_is_respected() -> None:
    breaker, _, events = _breaker()
    _feed(breaker, bad=9, good=0)  # 100% bad, but only 9 requests
    assert breaker.mode("chat", "m") is None
    breaker.record("chat", "m", "block")
    assert breaker.mode("chat", "m") is not None
    assert len(events) == 1


def test_only_counted_events_count_and_once_per_request() -> None:
    breaker, _, _ = _breaker(events=("toxicity", "leak"))
    for _ in range(10):
        breaker.record("chat", "m", "flag", "injection")  # not counted
    assert breaker.mode("chat", "m") is None
    breaker.reset()
    for _ in range(5):
        breaker.record("chat", "m", "toxicity", "leak")  # one request, one event
    _feed(breaker, bad=0, good=5)
    snapshot = breaker.snapshot()[0]
    assert (snapshot["requests"], snapshot["events"]) == (10, 5)
    assert snapshot["state"] == "open"


def test_scopes_are_apart() -> None:
    breaker, _, _ = _breaker()
    _feed(breaker, bad=10, good=0, feature="support")
    assert breaker.mode("support", "m") is not None
    assert breaker.mode("support", "other-model") is None
    assert breaker.mode("chat", "m") is None
    assert breaker.mode(None, "m") is None


def test_by_feature_ignores_the_model() -> None:
    breaker, _, events = _breaker(by="feature")
    for i in range(10):
        breaker.record("support", f"model-{i}", "block")
    mode = breaker.mode("support", "anything")
    assert mode is not None
    assert mode.model == "*"
    assert events[0][1] == "support/*"


def test_the_window_slides() -> None:
    breaker, clock, events = _breaker()
    _feed(breaker, bad=9, good=0)
    clock.now += 11  # the bad ones leave the window
    _feed(breaker, bad=1, good=9)
    assert breaker.mode("chat", "m") is None
    assert breaker.snapshot()[0]["requests"] == 10
    # Half a window later the recent ones are still in it: 9 bad of 18 trips it.
    clock.now += 5
    _feed(breaker, bad=8, good=0)
    assert breaker.mode("chat", "m") is not None
    assert [e[0] for e in events] == ["guard_breaker_open"]
    assert (events[0][2]["requests"], events[0][2]["events"]) == (18, 9)


def test_open_then_half_open_then_closed() -> None:
    breaker, clock, events = _breaker()
    _feed(breaker, bad=10, good=0)
    assert breaker.mode("chat", "m") is not None
    _feed(breaker, bad=0, good=50)  # answered in safe mode: not counted
    assert breaker.mode("chat", "m") is not None
    clock.now += 30
    assert breaker.mode("chat", "m") is None  # half-open: normal traffic again
    assert breaker.snapshot()[0]["state"] == "half_open"
    _feed(breaker, bad=2, good=7)
    assert breaker.snapshot()[0]["state"] == "half_open"  # not enough requests yet
    breaker.record("chat", "m", "ok")
    assert breaker.snapshot()[0]["state"] == "closed"
    assert [e[0] for e in events] == ["guard_breaker_open", "guard_breaker_closed"]
    assert events[1][2]["reason"] == "recovered"


def test_half_open_reopens_when_still_bad() -> None:
    breaker, clock, events = _breaker()
    _feed(breaker, bad=10, good=0)
    clock.now += 31
    _feed(breaker, bad=6, good=4)  # record() itself notices the recovery time passed
    assert breaker.mode("chat", "m") is not None
    assert [e[0] for e in events] == ["guard_breaker_open", "guard_breaker_open"]


def test_reset_one_scope_or_all() -> None:
    breaker, _, events = _breaker()
    _feed(breaker, bad=10, good=0, feature="a")
    _feed(breaker, bad=10, good=0, feature="b")
    reset = breaker.reset("a", "m")
    assert [(r["feature"], r["state"]) for r in reset] == [("a", "open")]
    assert breaker.mode("a", "m") is None
    assert breaker.mode("b", "m") is not None
    assert events[-1][:2] == ("guard_breaker_closed", "a/m")
    assert events[-1][2]["reason"] == "reset"
    assert breaker.reset("a", "m") == []  # nothing left to reset
    _feed(breaker, bad=10, good=0, feature="a")
    breaker.record("a", "m2", "block")
    assert [r["model"] for r in breaker.reset("a")] == ["m"]  # every model of feature a
    assert breaker.mode("a", "m") is None
    assert breaker.mode("b", "m") is not None
    assert [r["feature"] for r in breaker.reset()] == ["b"]
    assert breaker.mode("b", "m") is None
    assert all(s["requests"] == 0 for s in breaker.snapshot())


def test_safe_modes_carry_what_the_stage_needs() -> None:
    breaker, _, _ = _breaker(safe_mode="fallback", fallback_model="safe-model")
    _feed(breaker, bad=10, good=0)
    mode = breaker.mode("chat", "m")
    assert mode is not None
    assert (mode.kind, mode.fallback_model) == ("fallback", "safe-model")
    static = {"safe_mode": "static", "static_answer": "Sorry, later."}
    breaker.configure(
        AnomalyConfig(window_s=10, buckets=10, min_requests=10, threshold=0.5, **static)
    )
    mode = breaker.mode("chat", "m")
    assert mode is not None
    assert (mode.kind, mode.static_answer) == ("static", "Sorry, later.")


def test_disabled_records_nothing_and_disabling_closes() -> None:
    breaker, _, events = _breaker(enabled=False)
    _feed(breaker, bad=20, good=0)
    assert breaker.mode("chat", "m") is None
    assert breaker.snapshot() == []
    breaker.configure(AnomalyConfig(window_s=10, buckets=10, min_requests=10, threshold=0.5))
    _feed(breaker, bad=10, good=0)
    assert breaker.mode("chat", "m") is not None
    breaker.configure(AnomalyConfig(enabled=False))
    assert breaker.mode("chat", "m") is None
    assert events[-1][0] == "guard_breaker_closed"
    assert events[-1][2]["reason"] == "disabled"


def test_scopes_are_capped_and_idle_ones_dropped() -> None:
    breaker, clock, _ = _breaker(max_scopes=3)
    for name in ("a", "b", "c", "d"):
        breaker.record(name, "m", "ok")
    assert [s["feature"] for s in breaker.snapshot()] == ["a", "b", "c"]
    assert breaker.dropped == 1
    clock.now += 11  # a whole window idle: closed scopes may go
    breaker.record("d", "m", "ok")
    assert [s["feature"] for s in breaker.snapshot()] == ["d"]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"threshold": 0}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"window_s": 0}, "window_s"),
        ({"min_requests": 0}, "min_requests"),
        ({"events": ()}, "events"),
        ({"events": ("ok",)}, "events"),
        ({"safe_mode": "fallback"}, "fallback_model"),
        ({"safe_mode": "static", "static_answer": " "}, "static_answer"),
        ({"buckets": 0}, "buckets"),
    ],
)
def test_config_errors_name_the_key(overrides: dict[str, Any], key: str) -> None:
    from proctor.config.guard_ops import check_anomaly

    problem = check_anomaly(AnomalyConfig(**overrides))
    assert problem is not None
    assert f"`$.guards.anomaly.{key}`" in problem


def test_fallback_model_must_be_configured() -> None:
    from proctor.config.guard_ops import check_anomaly

    config = AnomalyConfig(safe_mode="fallback", fallback_model="nope")
    problem = check_anomaly(config, models=["chat"])
    assert problem is not None
    assert "unknown model 'nope'" in problem
    assert (
        check_anomaly(AnomalyConfig(safe_mode="fallback", fallback_model="chat"), ["chat"]) is None
    )


def test_a_new_scope_key_starts_afresh() -> None:
    breaker, _, events = _breaker()
    _feed(breaker, bad=10, good=0)
    breaker.configure(AnomalyConfig(window_s=10, buckets=10, min_requests=10, by="feature"))
    assert breaker.snapshot() == []
    assert breaker.mode("chat", "m") is None
    assert events[-1][2]["reason"] == "reconfigured"
