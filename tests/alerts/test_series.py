from __future__ import annotations

import math
import random

import pytest

from proctor.alerts.series import (
    ALL,
    LEVELS,
    OTHER,
    Bucket,
    Sample,
    Series,
    SeriesStore,
    bin_upper_ms,
    latency_bin,
    levels_for,
)

T0 = 1_700_000_000.0


def _sample(latency_ms: float = 10.0, *, error: bool = False, cost: float = 0.0) -> Sample:
    return Sample(error=error, latency_ms=latency_ms, cost_usd=cost, blocked=False, toxic=False)


def test_latency_bins_are_within_five_percent() -> None:
    for ms in (1.5, 12.0, 99.9, 4000.0, 123_456.0):
        upper = bin_upper_ms(latency_bin(ms))
        assert ms <= upper * (1 + 1e-9)
        assert upper <= ms * 1.05 + 1e-9


def test_p95_of_a_known_distribution() -> None:
    bucket = Bucket()
    rng = random.Random(7)
    values = [rng.uniform(10, 5000) for _ in range(10_000)]
    series = Series(levels_for(60), T0)
    for v in values:
        series.add(T0, _sample(v))
    bucket, _ = series.window(T0 - 60, T0)
    exact = sorted(values)[math.ceil(len(values) * 0.95) - 1]
    p95 = bucket.percentile_ms(95)
    assert p95 is not None
    assert exact <= p95 <= exact * 1.06
    assert Bucket().percentile_ms(95) is None


def test_window_sums_only_its_own_buckets() -> None:
    series = Series(levels_for(300), T0)
    for i in range(60):  # one request every 10 s for 10 minutes
        series.add(T0 + 10 * i, _sample(error=i % 2 == 0, cost=1.0))
    now = T0 + 590
    totals, span = series.window(now - 300, now)
    assert totals.requests == 30
    assert totals.errors == 15
    assert totals.cost_usd == pytest.approx(30.0)
    assert span == 300
    prior, covered = series.before(now - 600, now - 300, now)
    assert prior.requests + totals.requests <= 60
    assert covered <= 300


def test_a_young_series_reports_how_much_history_it_has() -> None:
    series = Series(levels_for(3600), T0 + 1000)
    series.add(T0 + 1000, _sample())
    _, covered = series.before(T0 - 3600, T0 + 1030, T0 + 1030)
    assert covered < 60


def test_rings_stay_bounded() -> None:
    series = Series(levels_for(300), T0)
    for i in range(5000):
        series.add(T0 + 5 * i, _sample())
    assert all(len(ring.buckets) <= ring.keep + 1 for ring in series.rings)


def test_levels_cover_the_longest_reach_only() -> None:
    assert levels_for(300) == LEVELS[:1]
    assert levels_for(3600 * 25) == LEVELS[:3]
    assert levels_for(86400 * 30) == LEVELS


def test_label_sets_are_bounded() -> None:
    store = SeriesStore(levels_for(60), {"model"}, max_labels=2)
    for name in ("a", "b", "c", "d"):
        store.add(T0, _sample(), name, None)
    assert sorted(v for _, v in store.labels("model")) == sorted(["a", "b", OTHER])
    other = store.series(("model", OTHER))
    assert other is not None
    assert other.window(T0 - 60, T0)[0].requests == 2
    everything = store.series(ALL)
    assert everything is not None
    assert everything.window(T0 - 60, T0)[0].requests == 4


def test_dimensions_no_rule_reads_are_not_kept() -> None:
    store = SeriesStore(levels_for(60), set())
    store.add(T0, _sample(), "a", "search")
    assert store.labels("model") == []
    assert store.labels("feature") == []
