from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from proctor.context import Attempt, Context
from proctor.store.migrations import MIGRATIONS
from proctor.store.records import RequestRecord, record_of
from proctor.store.sqlite import SQLiteStore, migrate
from proctor.store.writer import BatchWriter
from proctor.wire.types import ChatRequest, Message, Usage


def _record(i: int) -> RequestRecord:
    ctx = Context(request=ChatRequest(model="m", messages=[Message(role="user", content="x")]))
    ctx.request_id = f"req_{i:06d}"
    ctx.usage = Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)
    ctx.attempts.append(Attempt("sim/x", "sim", "x", 0.0, 1.5, 200))
    ctx.finish()
    return record_of(ctx)


def test_migrations_apply_once_and_are_numbered_in_order(tmp_path: Path) -> None:
    numbers = [m.number for m in MIGRATIONS]
    assert numbers == sorted(numbers) == list(range(1, len(numbers) + 1))
    db = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    assert migrate(db) == numbers
    assert migrate(db) == []


async def test_store_round_trip(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'log.db'}")
    await store.open()
    await store.write_batch([_record(1), _record(2)])
    row = await store.get_request("req_000001")
    assert row is not None
    assert row["prompt_tokens"] == 3
    assert row["stream"] == 0
    assert await store.count_requests() == 2
    assert [r["id"] for r in await store.recent_requests(1)]
    await store.close()
    mode = sqlite3.connect(tmp_path / "log.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


class CountingStore(SQLiteStore):
    def __init__(self, url: str, fail_first: int = 0) -> None:
        super().__init__(url)
        self.batches: list[int] = []
        self.fail_first = fail_first

    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        if self.fail_first > 0:
            self.fail_first -= 1
            raise OSError("disk hiccup")
        self.batches.append(len(records))
        await super().write_batch(records)


async def test_writer_groups_records_into_batches_and_drains_on_close(tmp_path: Path) -> None:
    store = CountingStore(f"sqlite:///{tmp_path / 'log.db'}")
    await store.open()
    writer = BatchWriter(store, flush_interval_s=10, batch_size=100)
    writer.start()
    for i in range(250):
        writer.submit(_record(i))
    await asyncio.sleep(0.2)  # two full batches trigger a flush before the interval
    await writer.close()
    assert sum(store.batches) == 250
    assert max(store.batches) <= 100
    assert len(store.batches) <= 4
    assert await store.count_requests() == 250
    await store.close()


async def test_writer_retries_failed_writes_without_losing_records(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = CountingStore(f"sqlite:///{tmp_path / 'log.db'}", fail_first=2)
    await store.open()
    writer = BatchWriter(store, flush_interval_s=0.01, batch_size=50)
    writer.start()
    for i in range(120):
        writer.submit(_record(i))
    await writer.close()
    assert await store.count_requests() == 120
    assert writer.failures == 2
    assert writer.dropped == 0
    await store.close()


async def test_writer_counts_drops_when_the_buffer_is_full(tmp_path: Path) -> None:
    store = CountingStore(f"sqlite:///{tmp_path / 'log.db'}")
    await store.open()
    writer = BatchWriter(store, flush_interval_s=10, batch_size=1000, max_buffered=10)
    for i in range(15):
        writer.submit(_record(i))
    assert writer.dropped == 5
    await writer.close()
    assert await store.count_requests() == 10
    await store.close()
