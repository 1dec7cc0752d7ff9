"""Request list filters and paging, one request's detail, and the event list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proctor.spend.params import SpendParamError
from proctor.stats.browse import list_events, list_requests, request_detail
from proctor.stats.params import event_filter, request_filter
from proctor.store.sqlite import SQLiteStore
from tests.stats.seed import BASE, NOW, SINCE, TRACE, seeded_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = await seeded_store(tmp_path / "browse.db")
    yield store
    await store.close()


async def ids(store: SQLiteStore, **params: str) -> list[str]:
    page = await list_requests(store, request_filter(params, now=NOW))
    return [row["id"] for row in page["data"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["a4", "a3", "a2", "a1", "old"]),
        ({"since": SINCE}, ["a4", "a3", "a2", "a1"]),
        ({"model": "m1"}, ["a4", "a2", "a1", "old"]),
        ({"feature": "chat"}, ["a3", "a1"]),
        ({"user": "alice", "since": SINCE}, ["a1"]),
        ({"endpoint": "/other"}, ["a4"]),
        ({"status": "error"}, ["a3", "a2"]),
        ({"status": "404"}, ["a3"]),
        ({"q": "a"}, ["a4", "a3", "a2", "a1"]),
        ({"q": "sess-1"}, ["a4"]),
        ({"q": "a_"}, []),  # LIKE wildcards are literal
        ({"q": "%"}, []),
        ({"before": str(BASE + 200)}, ["a1", "old"]),
    ],
)
async def test_filters(store: SQLiteStore, params: dict[str, str], expected: list[str]) -> None:
    assert await ids(store, **params) == expected


async def test_paging(store: SQLiteStore) -> None:
    first = await list_requests(store, request_filter({"limit": "2"}, now=NOW))
    assert [r["id"] for r in first["data"]] == ["a4", "a3"]
    assert first["next_before"] == BASE + 7210
    second = await list_requests(
        store, request_filter({"limit": "2", "before": str(first["next_before"])}, now=NOW)
    )
    assert [r["id"] for r in second["data"]] == ["a2", "a1"]
    assert second["next_before"] == BASE + 100
    third = await list_requests(
        store, request_filter({"limit": "2", "before": str(second["next_before"])}, now=NOW)
    )
    assert [r["id"] for r in third["data"]] == ["old"]
    assert third["next_before"] is None


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "teapot"}, "status"),
        ({"status": "1000"}, "status"),
        ({"before": "nan"}, "before"),
        ({"since": "soon"}, "since"),
    ],
)
def test_bad_filters(params: dict[str, str], param: str) -> None:
    with pytest.raises(SpendParamError) as caught:
        request_filter(params, now=NOW)
    assert caught.value.param == param


async def test_detail(store: SQLiteStore) -> None:
    row = await store.get_request("a1")
    assert row is not None
    body = await request_detail(store, row)
    assert body["id"] == "a1"
    assert body["user"] == "alice"
    assert body["stage_ms"] == {"route": 0.5}
    assert body["attempts"] == [{"deployment": "sim/m1"}]
    assert body["findings"][0] == {"stage": "guard_in", "rule": "pii", "action": "block"}
    assert [(s["trace_id"], s["name"]) for s in body["spans"]] == [
        (TRACE, "gateway"),
        (TRACE, "upstream"),
    ]
    assert body["spans"][0]["attributes"] == {"a": 1}
    assert body["spans"][0]["duration_ms"] == 2.0
    assert [(f["channel"], f["score"], f["metadata"]) for f in body["feedback"]] == [
        ("api", 1.0, {"k": 1}),
        ("browser", -0.5, {"k": 1}),
    ]
    other = await store.get_request("a2")
    assert other is not None
    plain = await request_detail(store, other)
    assert (plain["spans"], plain["feedback"], plain["findings"]) == ([], [], [])


async def test_events(store: SQLiteStore) -> None:
    async def event_ids(**params: str) -> list[str]:
        body = await list_events(store, event_filter(params, now=NOW))
        return [e["id"] for e in body["data"]]

    assert await event_ids() == ["e2", "e1", "e3"]
    assert await event_ids(kind="alert") == ["e1", "e3"]
    assert await event_ids(kind="alert", since=SINCE) == ["e1"]
    assert await event_ids(limit="1") == ["e2"]
    body = await list_events(store, event_filter({"kind": "alert"}, now=NOW))
    assert body["data"][0]["detail"] == {"usd": 1}
