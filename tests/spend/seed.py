"""A small request log with known costs at known times, shared by the spend tests.

Times are offsets from BASE, an hour boundary (2023-11-14T22:00:00Z); reports are asked for
at NOW = BASE + 2h30m unless a test says otherwise.
"""

from __future__ import annotations

from pathlib import Path

from msgspec.structs import replace

from proctor.store.records import RequestRecord
from proctor.store.sqlite import SQLiteStore

HOUR = 3600.0
BASE = 472_222 * HOUR  # 1_699_999_200.0
NOW = BASE + 2.5 * HOUR


def record(
    id: str,
    at: float,
    *,
    user: str | None,
    feature: str | None,
    model: str = "chat-large",
    key: str | None = None,
    team: str | None = None,
    status: int = 200,
    prompt: int | None = 0,
    completion: int | None = 0,
    cached: int | None = None,
    cost: float | None = 0.0,
) -> RequestRecord:
    return RequestRecord(
        id=id,
        started_at=at,
        api="openai",
        operation="chat",
        stream=False,
        status=status,
        public_model=model,
        latency_ms=1.0,
        tenant="acme",
        team=team,
        user=user,
        feature=feature,
        endpoint="/ask",
        environment="prod",
        key_id=key,
        deployment=f"sim/{model}",
        provider="sim",
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached,
        cost_usd=cost,
    )


# Inside the last 24h of NOW: r1..r5 and r7. Costs are powers of two so sums are exact.
RECORDS = [
    record("r1", BASE + 2 * HOUR + 600, user="alice", feature="chat", key="key_a", team="red",
           prompt=100, completion=50, cached=10, cost=0.5),
    record("r2", BASE + 2 * HOUR + 1200, user="alice", feature="chat", model="chat-small",
           key="key_a", team="red", prompt=200, completion=20, cost=0.25),
    record("r3", BASE + HOUR + 300, user="bob", feature="search", key="key_b", team="blue",
           prompt=1000, completion=100, cached=500, cost=1.0),
    # 0.4 s before a boundary: CAST rounds this up in PostgreSQL; the bucket must not.
    record("r4", BASE + 2 * HOUR - 0.4, user="bob", feature="chat", model="chat-small",
           key="key_b", team="blue", prompt=10, completion=None, cost=None),
    # Exactly on BASE: included by since=BASE (inclusive), first in its bucket.
    record("r5", BASE, user="carol", feature="search", key="key_c", team="blue", status=500,
           prompt=5, completion=0, cost=0.125),
    record("r7", BASE + 1800, user=None, feature=None, model="chat-small", prompt=1,
           completion=1, cost=0.0625),
    # Two days old: only in 7d windows.
    record("r6", NOW - 48 * HOUR, user="dave", feature="chat", key="key_d", team="red",
           prompt=4000, completion=400, cost=8.0),
    # After NOW (a clock ahead): never in a report asked for at NOW.
    record("r9", NOW + 60, user="eve", feature="chat", cost=100.0),
]  # fmt: skip


async def seeded_store(path: Path) -> SQLiteStore:
    store = SQLiteStore(f"sqlite:///{path}")
    await store.open()
    await store.write_batch(RECORDS)
    return store


def recent_records(now: float) -> list[RequestRecord]:
    """RECORDS moved so that NOW falls 30 to 90 minutes before `now` (for commands that
    read the clock), still hour-aligned; r9 is left out, as it would no longer be ahead."""
    delta = (now // HOUR) * HOUR - HOUR - (NOW - 0.5 * HOUR)
    return [replace(r, started_at=r.started_at + delta) for r in RECORDS if r.id != "r9"]
