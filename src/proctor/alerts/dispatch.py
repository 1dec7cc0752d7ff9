"""Sending alerts in the background: evaluation hands an alert over and moves on.

Each (alert, sink) delivery is a task of its own, so a slow or dead sink delays nobody else.
At most `max_pending` deliveries are in flight; beyond that, and after `close`, deliveries
are dropped. Sent, failed, retried and dropped deliveries are counted per sink, and failures
are logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from proctor.alerts.payload import Alert
from proctor.alerts.sinks import Delivery, Sink, make_sink
from proctor.config.alerts import AlertSinkConfig

log = logging.getLogger("proctor.alerts")


@dataclass(slots=True)
class SinkStats:
    sent: int = 0
    failed: int = 0  # gave up after every attempt
    retries: int = 0  # attempts after the first
    dropped: int = 0  # never attempted: too many in flight, or shutting down


class Dispatcher:
    def __init__(self, sinks: Sequence[AlertSinkConfig] = (), max_pending: int = 1000) -> None:
        self.sinks: dict[str, Sink] = {}
        self.stats: dict[str, SinkStats] = {}
        self.max_pending = max_pending
        self._tasks: set[asyncio.Task[Delivery]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self.configure(sinks, max_pending)

    def configure(self, sinks: Sequence[AlertSinkConfig], max_pending: int) -> None:
        """Use these sinks from now on; deliveries in flight finish on the old ones."""
        self.sinks = {config.label: make_sink(config) for config in sinks}
        self.max_pending = max_pending
        for name in self.sinks:
            self.stats.setdefault(name, SinkStats())

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def targets(self, names: Sequence[str] = ()) -> list[Sink]:
        """The named sinks (every sink when none are named)."""
        if not names:
            return list(self.sinks.values())
        return [self.sinks[name] for name in names if name in self.sinks]

    def dispatch(self, alert: Alert, names: Sequence[str] = ()) -> None:
        """Start delivering `alert` to the named sinks (all when none); never blocks or raises."""
        for sink in self.targets(names):
            stats = self.stats.setdefault(sink.name, SinkStats())
            if self._closed or len(self._tasks) >= self.max_pending:
                stats.dropped += 1
                log.warning(
                    "alert %s to sink %s dropped (%d in flight)",
                    alert.key,
                    sink.name,
                    len(self._tasks),
                )
                continue
            try:
                task = asyncio.get_running_loop().create_task(self._deliver(sink, alert))
            except RuntimeError:  # no event loop: nothing can be sent from here
                stats.dropped += 1
                continue
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, sink: Sink, alert: Alert) -> Delivery:
        delivery = await self.send(sink, alert)
        if not delivery.ok:
            log.warning(
                "alert %s to sink %s failed after %d attempt(s): %s",
                alert.key,
                sink.name,
                delivery.attempts,
                delivery.error,
            )
        return delivery

    async def send(self, sink: Sink, alert: Alert) -> Delivery:
        """Deliver now and answer what the sink said; counts it; never raises."""
        stats = self.stats.setdefault(sink.name, SinkStats())
        try:
            delivery = await sink.send(alert, self)
        except Exception as exc:  # a sink's bug is a failed delivery, not a crash
            log.exception("sink %s failed", sink.name)
            delivery = Delivery(sink.name, sink.kind, False, 1, error=f"{type(exc).__name__}")
        stats.retries += max(0, delivery.attempts - 1)
        if delivery.ok:
            stats.sent += 1
        else:
            stats.failed += 1
        return delivery

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Each attempt has its own deadline (asyncio.timeout in the sink), none here.
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        return self._session

    async def drain(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for deliveries in flight; cancel the rest."""
        tasks = set(self._tasks)
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=timeout_s)
        for task in late:
            task.cancel()
        if late:
            log.warning("%d alert deliveries still in flight at shutdown were cancelled", len(late))
            await asyncio.gather(*late, return_exceptions=True)

    async def close(self, timeout_s: float = 5.0) -> None:
        self._closed = True
        await self.drain(timeout_s)
        if self._session is not None:
            await self._session.close()
            self._session = None
