"""The one batched background writer: the request path hands over and moves on.

A finished request is handed over as its Context: turning it into a row, and everything
else done with it afterwards (metrics, trace spans: the `observers`), happens here, in the
background, not on the request path. Records wait in a bounded in-memory buffer and are
written in one transaction per batch, every `flush_interval` or as soon as `batch_size`
rows are waiting (group commit). `close` drains everything that is buffered. A failed write
is retried with backoff, never dropped silently; only a full buffer drops records, and those
drops are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence

from proctor.context import Context
from proctor.store.base import RequestLog
from proctor.store.records import Record, record_of

Observer = Callable[[Sequence[Context]], None]

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
        self._buffer: deque[Record | Context] = deque()
        self.observers: list[Observer] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0
        self.dropped = 0
        self.failures = 0

    @property
    def depth(self) -> int:
        return len(self._buffer)

    def submit(self, record: Record | Context) -> None:
        """Hand a record (or a finished request) over; never blocks, never raises."""
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
            taken = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
            batch = self._records(taken)
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

    def _records(self, taken: list[Record | Context]) -> list[Record]:
        contexts = [item for item in taken if isinstance(item, Context)]
        for observe in self.observers:
            try:
                observe(contexts)
            except Exception:  # an observer's bug must not lose the request log
                log.exception("observer %r failed on %d requests", observe, len(contexts))
        return [record_of(item) if isinstance(item, Context) else item for item in taken]

    async def close(self) -> None:
        """Stop the loop and write everything still buffered."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._flush()
