"""Spend reports over a seeded SQLite request log: exact figures for known records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proctor.spend import SpendReport, spend_query, spend_report
from proctor.store.sqlite import SQLiteStore
from tests.spend.seed import BASE, HOUR, NOW, record, seeded_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = await seeded_store(tmp_path / "log.db")
    yield store
    await store.close()


async def report(store: SQLiteStore, **params: str) -> SpendReport:
    return await spend_report(store, spend_query(now=NOW, **params))


async def test_totals_over_the_default_24h(store: SQLiteStore) -> None:
    r = await report(store)
    t = r.totals
    # r1 r2 r3 r4 r5 r7: r6 is two days old, r9 is after NOW.
    assert (t.requests, t.errors, t.unknown_cost_requests) == (6, 1, 1)
    assert t.prompt_tokens == 100 + 200 + 1000 + 10 + 5 + 1
    assert t.completion_tokens == 50 + 20 + 100 + 0 + 1
    assert t.cached_tokens == 10 + 500
    assert t.cost_usd == 0.5 + 0.25 + 1.0 + 0.125 + 0.0625 == 1.9375
    assert t.cost_per_1k_requests == pytest.approx(1.9375 * 1000 / 6)
    assert r.since == NOW - 24 * HOUR
    assert r.until == NOW
    assert r.window == "24h"
    assert r.by == []
    assert r.groups == []
    assert r.groups_total == 0
    assert r.other is None
    assert r.series_bucket is None
    assert r.series == []


async def test_since_windows_relative_and_absolute(store: SQLiteStore) -> None:
    assert (await report(store, since="7d")).totals.requests == 7  # r6 too
    assert (await report(store, since="7d")).totals.cost_usd == 9.9375
    assert (await report(store, since="15m")).totals.requests == 1  # r2 at NOW - 10m
    assert (await report(store, since="30m")).totals.cost_usd == 0.5 + 0.25
    # Absolute: BASE itself is included (r5 starts exactly then); naive times are UTC.
    for since in ("2023-11-14T22:00:00Z", "2023-11-14T22:00:00", "2023-11-14T23:00:00+01:00"):
        r = await report(store, since=since)
        assert r.since == BASE
        assert r.since_iso == "2023-11-14T22:00:00Z"
        assert r.totals.requests == 6
    assert (await report(store, since="2023-11-14T22:00:01Z")).totals.requests == 5


async def test_group_by_user_orders_by_cost_and_sums_the_rest(store: SQLiteStore) -> None:
    r = await report(store, by="user")
    assert [(g.key, g.requests, g.cost_usd) for g in r.groups] == [
        ({"user": "bob"}, 2, 1.0),
        ({"user": "alice"}, 2, 0.75),
        ({"user": "carol"}, 1, 0.125),
        ({"user": None}, 1, 0.0625),
    ]
    assert r.groups_total == 4
    assert r.other is None
    bob, alice = r.groups[0], r.groups[1]
    assert (bob.unknown_cost_requests, bob.prompt_tokens, bob.cached_tokens) == (1, 1010, 500)
    assert r.groups[2].errors == 1
    assert alice.cost_per_1k_requests == 375.0
    assert bob.cost_per_1k_requests == 500.0


async def test_top_n_keeps_the_most_expensive_and_reports_the_other(store: SQLiteStore) -> None:
    r = await report(store, by="user", top="2")
    assert [g.key["user"] for g in r.groups] == ["bob", "alice"]
    assert r.groups_total == 4
    assert r.other is not None
    assert (r.other.requests, r.other.errors, r.other.cost_usd) == (2, 1, 0.1875)
    assert r.other.prompt_tokens == 6
    assert r.other.cost_per_1k_requests == 93.75


async def test_group_by_several_dimensions(store: SQLiteStore) -> None:
    r = await report(store, by="user,feature")
    assert [(g.key["user"], g.key["feature"], g.cost_usd) for g in r.groups] == [
        ("bob", "search", 1.0),
        ("alice", "chat", 0.75),
        ("carol", "search", 0.125),
        (None, None, 0.0625),
        ("bob", "chat", 0.0),  # only an unknown-cost request: no known cost, sorts last
    ]
    assert r.groups[-1].unknown_cost_requests == 1
    assert r.groups[-1].cost_per_1k_requests == 0.0
    # Every dimension maps to its column: public_model, key_id, ...
    r = await report(store, by="model,key,team,tenant,environment,endpoint,deployment,provider")
    first = r.groups[0].key
    assert first == {
        "model": "chat-large",
        "key": "key_b",
        "team": "blue",
        "tenant": "acme",
        "environment": "prod",
        "endpoint": "/ask",
        "deployment": "sim/chat-large",
        "provider": "sim",
    }
    by_model = await report(store, by="model")
    assert {g.key["model"]: g.requests for g in by_model.groups} == {
        "chat-large": 3,
        "chat-small": 3,
    }


async def test_ties_on_cost_order_by_requests_then_value(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'ties.db'}")
    await store.open()
    await store.write_batch(
        [
            record("a", NOW - 10, user="zed", feature="f", cost=0.5),
            record("b", NOW - 20, user="amy", feature="f", cost=0.5),
            record("c", NOW - 30, user="kim", feature="f", cost=0.25),
            record("d", NOW - 40, user="kim", feature="f", cost=0.25),
            record("e", NOW - 50, user=None, feature="f", cost=0.5),
        ]
    )
    r = await report(store, by="user")
    await store.close()
    # Same cost: more requests first, then by value, with "no such tag" last.
    assert [g.key["user"] for g in r.groups] == ["kim", "amy", "zed", None]


async def test_hour_series_is_zero_filled_and_floors_to_the_bucket(store: SQLiteStore) -> None:
    r = await report(store, since="3h", series="hour")
    assert (r.series_bucket, r.bucket_seconds) == ("hour", 3600)
    assert [(b.start, b.requests, b.cost_usd) for b in r.series] == [
        (BASE - HOUR, 0, 0.0),  # since = NOW - 3h falls in this bucket; nothing logged in it
        (BASE, 2, 0.1875),  # r5 (exactly on the boundary) and r7
        (BASE + HOUR, 2, 1.0),  # r3, and r4 at 0.4 s before the next hour
        (BASE + 2 * HOUR, 2, 0.75),  # r1, r2
    ]
    assert r.series[1].start_iso == "2023-11-14T22:00:00Z"
    assert r.series[1].errors == 1
    assert r.series[2].unknown_cost_requests == 1
    assert r.series[0].cost_per_1k_requests is None
    # The series adds up to the totals.
    assert sum(b.requests for b in r.series) == r.totals.requests
    assert sum(b.cost_usd for b in r.series) == r.totals.cost_usd


async def test_minute_and_day_series(store: SQLiteStore) -> None:
    minutes = await report(store, since="1h", series="minute")
    assert len(minutes.series) == 61  # NOW - 1h and NOW are both on the minute grid
    busy = {b.start: b.requests for b in minutes.series if b.requests}
    assert busy == {BASE + 2 * HOUR - 60: 1, BASE + 2 * HOUR + 600: 1, BASE + 2 * HOUR + 1200: 1}
    days = await report(store, since="7d", series="day")
    day = 86400.0
    assert len(days.series) == 8
    assert all(b.start % day == 0 for b in days.series)
    busy = {b.start: b.requests for b in days.series if b.requests}
    # BASE is 22:00 on 2023-11-14: r6 (NOW - 48h) is on the 13th; r3, r4 (23:59:59.6), r5
    # and r7 on the 14th; r1 and r2 after midnight, on the 15th.
    assert busy == {
        BASE - 22 * HOUR - day: 1,
        BASE - 22 * HOUR: 4,
        BASE + 2 * HOUR: 2,
    }


async def test_an_empty_log_reports_zeros(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'empty.db'}")
    await store.open()
    r = await report(store, by="user", series="hour")
    await store.close()
    assert r.totals.requests == 0
    assert r.totals.cost_usd == 0.0
    assert r.totals.cost_per_1k_requests is None
    assert r.groups == []
    assert r.groups_total == 0
    assert r.other is None
    assert len(r.series) == 25
    assert not any(b.requests for b in r.series)


async def test_read_rows_refuses_writes(store: SQLiteStore) -> None:
    import sqlite3

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await store.read_rows([("DELETE FROM requests", ())])
    assert await store.count_requests() == 8
    # The connection is writable again afterwards, for the request log.
    await store.write_batch([record("later", NOW, user="x", feature="y")])
    assert await store.count_requests() == 9
