"""The one batched background writer: the request path hands records over and moves on.

Records wait in a bounded in-memory buffer and are written in one transaction per batch,
every `flush_interval` or as soon as `batch_size` rows are waiting (group commit). `close`
drains everything that is buffered. A failed write is retried with backoff, never dropped
silently; only a full buffer drops records, and those drops are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from proctor.store.base import RequestLog
from proctor.store.records import Record

log = logging.getLogger("proctor.store")


class BatchWriter:
    def __init__(
        self,
        store: RequestLog,
        *,
        flush_interval_s: float = 0.1,
        batch_size: int = 500,
        max_buffered: int = 100_000,
    ) -> None:
        self.store = store
        self.flush_interval_s = flush_interval_s
        self.batch_size = batch_size
        self.max_buffered = max_buffered
        self._buffer: deque[Record] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0
        self.dropped = 0
        self.failures = 0

    @property
    def depth(self) -> int:
        return len(self._buffer)

    def submit(self, record: Record) -> None:
        """Hand a record over; never blocks, never raises."""
        if len(self._buffer) >= self.max_buffered:
            self.dropped += 1
            return
        self._buffer.append(record)
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="proctor-batch-writer")

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            self._wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        backoff = 0.05
        while self._buffer:
            batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
            try:
                await self.store.write_batch(batch)
            except Exception:
                self.failures += 1
                log.exception("request log write failed; retrying %d records", len(batch))
                self._buffer.extendleft(reversed(batch))
                if self._closing and backoff > 2:
                    self.dropped += len(self._buffer)
                    log.error("giving up on %d records at shutdown", len(self._buffer))
                    self._buffer.clear()
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self.written += len(batch)

    async def close(self) -> None:
        """Stop the loop and write everything still buffered."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._flush()
