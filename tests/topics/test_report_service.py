"""GET /admin/topics' report over a seeded store (exact), its flags, and the observer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proctor.config.topics import TopicsConfig
from proctor.context import Context, Finding
from proctor.embed import HashingEmbedder
from proctor.store.records import FeedbackRecord, Record, RequestRecord
from proctor.store.sqlite import SQLiteStore
from proctor.topics.report import topics_query, topics_report
from proctor.topics.service import TopicService
from proctor.wire.types import ChatRequest, Message

NOW = 1_800_000_000.0
HOUR = 3600.0


def request(
    rid: str, at: float, latency: float, cost: float, findings: str = "[]"
) -> RequestRecord:
    return RequestRecord(
        id=rid, started_at=at, api="openai", operation="chat", stream=False, status=200,
        public_model="m", latency_ms=latency, cost_usd=cost, findings=findings,
    )  # fmt: skip


def topic(tid: str, created: float, count: int) -> dict[str, object]:
    return {"id": tid, "label": tid, "created_at": created, "count": count,
            "embedder": "hashing", "centroid": ""}  # fmt: skip


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(f"sqlite:///{tmp_path / 't.db'}")
    await store.open()
    old = NOW - 10 * 24 * HOUR
    records: list[Record] = [
        # "old": 2 requests now, 2 in the previous 24 h; one finding pair, two ratings.
        request("a1", NOW - HOUR, 100, 0.01, '[{"stage":"g","rule":"r","action":"block"},{}]'),
        request("a2", NOW - 2 * HOUR, 300, 0.02),
        request("a3", NOW - 30 * HOUR, 50, 1.0),
        request("a4", NOW - 40 * HOUR, 50, 1.0),
        # "hot": 10 requests now, 1 before: growing. "fresh": created in the window: new.
        *(request(f"h{i}", NOW - i * 60, 10.0 * (i + 1), 0.001) for i in range(10)),
        request("h-prev", NOW - 25 * HOUR, 5, 0.0),
        request("f1", NOW - 60, 7, 0.5),
        request("outside", NOW - 100 * HOUR, 1, 9.0),
        FeedbackRecord("a1", "api", "fb1", NOW, 1.0),
        FeedbackRecord("a1", "browser", "fb2", NOW, -0.5),
        FeedbackRecord("a2", "api", "fb3", NOW, 0.0),
    ]
    await store.write_batch(records)
    assigned = [("a1", "old", 0.0), ("a2", "old", 0.0), ("a3", "old", 0.0), ("a4", "old", 0.0)]
    assigned += [(f"h{i}", "hot", 0.0) for i in range(10)] + [("h-prev", "hot", 0.0)]
    assigned += [("f1", "fresh", 0.0), ("outside", "gone", 0.0)]
    await store.write_topics(
        [topic("old", old, 4), topic("hot", old, 11), topic("fresh", NOW - HOUR, 1),
         topic("gone", old, 1)],
        assigned,
        merged=[("gone", "old")],
    )  # fmt: skip
    yield store
    await store.close()


async def test_report_aggregates_exactly(store: SQLiteStore) -> None:
    body = await topics_report(store, topics_query({"since": "24h"}, now=NOW))
    by = {t["id"]: t for t in body["data"]}
    assert [t["id"] for t in body["data"]] == ["hot", "old", "fresh"]
    assert body["topics"] == 3  # "gone" was merged into "old"
    old = by["old"]
    assert (old["requests"], old["previous_requests"], old["growth"]) == (2, 2, 1.0)
    assert old["cost_usd"] == pytest.approx(0.03)
    assert (old["latency_p50_ms"], old["latency_p95_ms"]) == (100, 300)
    assert old["guard_events"] == 2
    assert old["feedback_count"] == 3
    assert old["feedback_mean"] == pytest.approx(0.5 / 3)
    assert (old["new"], old["growing"]) == (False, False)
    hot = by["hot"]
    assert (hot["requests"], hot["growth"], hot["new"], hot["growing"]) == (10, 10.0, False, True)
    assert (hot["latency_p50_ms"], hot["latency_p95_ms"]) == (50, 100)
    fresh = by["fresh"]
    assert (fresh["new"], fresh["growing"], fresh["growth"]) == (True, False, None)
    assert fresh["feedback_mean"] is None


async def test_growing_needs_enough_requests(store: SQLiteStore) -> None:
    query = topics_query({"since": "24h"}, now=NOW, growing_min_requests=11)
    body = await topics_report(store, query)
    assert not any(t["growing"] for t in body["data"])


def chat(text: str) -> Context:
    messages = [Message(role="system", content="be nice"), Message(role="user", content=text)]
    return Context(request=ChatRequest(model="m", messages=messages))


async def test_observer_only_enqueues_then_task_clusters(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 's.db'}")
    await store.open()
    embedder = HashingEmbedder()
    calls: list[int] = []
    original = embedder.embed

    def counting(texts: list[str]) -> object:
        calls.append(len(texts))
        return original(texts)

    embedder.embed = counting  # type: ignore[method-assign,assignment]
    config = TopicsConfig(flush_interval_s=0.05, max_chars=20)
    service = TopicService(store, config, embedder=embedder)
    contexts = [chat("reset my password " + "x" * 50), chat("reset my password now")]
    contexts[0].findings.append(Finding("g", "r", "flag"))
    service.observe(contexts)
    assert calls == []  # nothing embedded on the observer's path
    assert len(service._queue) == 2
    assert len(service._queue[0][1]) == 20  # truncated
    await service.start()
    await service.close()
    assert calls == [2]
    rows = await store.load_topics()
    assert sum(r["count"] for r in rows) == 2
    await store.close()


async def test_observer_samples_and_bounds(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'b.db'}")
    none = TopicService(store, TopicsConfig(sample_rate=0.0), embedder=HashingEmbedder())
    none.observe([chat("hello")] * 5)
    assert len(none._queue) == 0
    small = TopicService(store, TopicsConfig(queue_size=3), embedder=HashingEmbedder())
    small.observe([chat("hello")] * 5)
    assert (len(small._queue), small.dropped) == (3, 2)
    off = TopicService(store, TopicsConfig(enabled=False), embedder=HashingEmbedder())
    off.observe([chat("hello")])
    assert len(off._queue) == 0
    capped = TopicService(store, TopicsConfig(max_per_second=10), embedder=HashingEmbedder())
    capped.observe([chat("hello")] * 100)  # a burst: one second's worth is clustered
    assert 10 <= len(capped._queue) <= 11
    assert capped.skipped == 100 - len(capped._queue)
