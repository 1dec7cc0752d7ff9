"""The stats report over a hand-made log: exact totals, nearest-rank percentiles, a
zero-filled series, and the breakdown's order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from proctor.spend.params import SpendParamError
from proctor.stats.params import stats_query
from proctor.stats.report import nearest_rank, stats_report
from proctor.store.sqlite import SQLiteStore
from tests.stats.seed import BASE, HOUR, NOW, SINCE, seeded_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = await seeded_store(tmp_path / "stats.db")
    yield store
    await store.close()


async def report(store: SQLiteStore, **params: str) -> dict[str, Any]:
    return await stats_report(store, stats_query({"since": SINCE, **params}, now=NOW))


def test_nearest_rank() -> None:
    values = [100.0, 200.0, 300.0, 400.0]
    assert [nearest_rank(values, p) for p in (0, 25, 50, 51, 95, 99, 100)] == [
        100.0, 100.0, 200.0, 300.0, 400.0, 400.0, 400.0,
    ]  # fmt: skip
    assert nearest_rank([], 50) is None


async def test_totals(store: SQLiteStore) -> None:
    body = await report(store, bucket="hour")
    assert (body["since"], body["until"], body["bucket_seconds"], body["by"]) == (
        BASE, NOW, 3600, None,
    )  # fmt: skip
    assert body["sampled"] is False
    assert body["totals"] == {
        "requests": 4,
        "errors": 1,
        "client_errors": 1,
        "error_rate": 0.25,
        "cost_usd": 0.875,
        "prompt_tokens": 31,
        "completion_tokens": 6,
        "latency_p50_ms": 200.0,
        "latency_p95_ms": 400.0,
        "latency_p99_ms": 400.0,
        "ttft_p50_ms": 30.0,
        "ttft_p95_ms": 40.0,
        "cache_hits": 0,
        "cache_hit_rate": 0.0,
        "guard_events": 2,
        "guard_blocks": 1,
        "refusals": 0,
        "refusal_rate": 0.0,
        "feedback_count": 3,
        "feedback_mean": pytest.approx(1.0 / 3),
    }
    assert body["breakdown"] == []


async def test_series_is_zero_filled(store: SQLiteStore) -> None:
    series = (await report(store, bucket="hour"))["series"]
    assert [(b["start"], b["requests"]) for b in series] == [
        (BASE, 2), (BASE + HOUR, 0), (BASE + 2 * HOUR, 2),
    ]  # fmt: skip
    assert series[0]["start_iso"] == "2023-11-14T22:00:00Z"
    first, empty, last = series
    assert (first["latency_p50_ms"], first["latency_p99_ms"], first["ttft_p50_ms"]) == (
        100.0, 200.0, 10.0,
    )  # fmt: skip
    assert (first["errors"], first["guard_blocks"], first["feedback_count"]) == (1, 1, 2)
    assert first["feedback_mean"] == 0.25
    assert empty["latency_p50_ms"] is None
    assert empty["error_rate"] is None
    assert empty["cost_usd"] == 0.0
    assert empty["feedback_mean"] is None
    assert (last["client_errors"], last["cost_usd"], last["feedback_mean"]) == (1, 0.125, 0.5)


async def test_default_bucket_follows_the_window(store: SQLiteStore) -> None:
    assert (await report(store))["bucket_seconds"] == 3600  # 2h30m: hours
    minutes = await stats_report(store, stats_query({"since": "1h"}, now=NOW))
    assert (minutes["bucket_seconds"], len(minutes["series"])) == (60, 61)
    body = await stats_report(store, stats_query({"since": "7d"}, now=NOW))
    assert body["bucket_seconds"] == 86400


async def test_breakdown_by_model_and_by_user(store: SQLiteStore) -> None:
    by_model = (await report(store, by="model"))["breakdown"]
    assert [(g["key"], g["requests"]) for g in by_model] == [("m1", 3), ("m2", 1)]
    assert (by_model[0]["latency_p50_ms"], by_model[0]["cost_usd"]) == (200.0, 0.875)
    assert by_model[1]["feedback_mean"] is None
    by_user = (await report(store, by="user"))["breakdown"]
    # Most requests first; ties by key, nulls last.
    assert [(g["key"], g["requests"]) for g in by_user] == [(None, 2), ("alice", 1), ("bob", 1)]
    assert by_user[1]["guard_events"] == 2


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"bucket": "week"}, "bucket"),
        ({"by": "colour"}, "by"),
        ({"by": "user,model"}, "by"),
        ({"since": "yesterday"}, "since"),
        ({"since": "365d", "bucket": "minute"}, "bucket"),
    ],
)
def test_bad_parameters_name_themselves(params: dict[str, str], param: str) -> None:
    with pytest.raises(SpendParamError) as caught:
        stats_query(params, now=NOW)
    assert caught.value.param == param
