"""What only the Redis backend has: outages, timeouts, script loading, key layout, expiry.

The failure tests need no Redis (a closed port, a server that never answers) and always
run; the others go through `redis_service` and skip or fail like every Redis test.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from proctor.limits.redis import SCALE, CounterUnavailable, RedisCounter

HOUR = 3600.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Proxy:
    """A TCP proxy in front of the real Redis that a test can cut and restore: Redis going
    away and coming back, without touching the shared server."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self.port = _free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}
        pipes = [self._pipe(reader, up_writer), self._pipe(up_reader, writer)]
        for pipe in pipes:
            task = asyncio.create_task(pipe)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def cut(self) -> None:
        """Stop listening and drop every connection, as a dying Redis would."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@pytest.fixture
async def proxy(redis_service: tuple[str, str]) -> AsyncIterator[Proxy]:
    client = Redis.from_url(redis_service[0])
    try:
        kwargs = client.get_connection_kwargs()
    finally:
        await client.aclose()
    proxy = Proxy(kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379))
    await proxy.start()
    yield proxy
    await proxy.cut()


def _via(proxy: Proxy, url: str) -> str:
    db = url.rsplit("/", 1)[-1] if url.count("/") >= 3 else "0"
    return f"redis://127.0.0.1:{proxy.port}/{db}"


async def test_unreachable_redis_raises_counter_unavailable() -> None:
    counter = RedisCounter(f"redis://user:hunter2@127.0.0.1:{_free_port()}/0")
    try:
        for call in (
            counter.reserve("b", 1.0, 10.0, 60.0),
            counter.adjust("b", 1.0, 60.0),
            counter.spent("b"),
            counter.take("k", 1.0, 10.0, 1.0),
            counter.give("k", 1.0, 10.0, 1.0),
        ):
            with pytest.raises(CounterUnavailable) as caught:
                await call
            assert "unavailable" in str(caught.value)
            assert "hunter2" not in str(caught.value)  # never print credentials
            assert "user:***@127.0.0.1" in str(caught.value)
    finally:
        await counter.close()


async def test_unresponsive_redis_times_out() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # hold the connection open, reply nothing
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    counter = RedisCounter(f"redis://127.0.0.1:{port}/0", timeout_s=0.2)
    try:
        async with asyncio.timeout(10):  # a guard against hanging, not a timing assertion
            with pytest.raises(CounterUnavailable, match="Timeout"):
                await counter.reserve("b", 1.0, 10.0, 60.0)
    finally:
        await counter.close()
        server.close()
        await server.wait_closed()


async def test_outage_surfaces_and_recovery_reconnects(
    redis_service: tuple[str, str], proxy: Proxy
) -> None:
    counter = RedisCounter(_via(proxy, redis_service[0]), redis_service[1])
    try:
        assert (await counter.reserve("b", 2.0, 10.0, 60.0)).allowed
        await proxy.cut()
        with pytest.raises(CounterUnavailable):
            await counter.reserve("b", 2.0, 10.0, 60.0)
        with pytest.raises(CounterUnavailable):
            await counter.take("k", 1.0, 10.0, HOUR)
        await proxy.start()
        assert (await counter.reserve("b", 2.0, 10.0, 60.0)).value == 4.0  # state survived
    finally:
        await counter.close()


async def test_scripts_are_reloaded_after_script_flush(redis_service: tuple[str, str]) -> None:
    url, prefix = redis_service
    counter = RedisCounter(url, prefix)
    admin = Redis.from_url(url)
    try:
        assert (await counter.reserve("b", 1.0, 10.0, 60.0)).allowed
        assert (await counter.take("k", 1.0, 10.0, HOUR)).allowed
        await admin.script_flush()  # as after a Redis restart or failover
        assert (await counter.reserve("b", 1.0, 10.0, 60.0)).value == 2.0
        assert (await counter.take("k", 1.0, 10.0, HOUR)).value == pytest.approx(8.0)
    finally:
        await counter.close()
        await admin.aclose()


async def test_key_layout_and_expiry(redis_service: tuple[str, str]) -> None:
    url, prefix = redis_service
    counter = RedisCounter(url, prefix)
    admin = Redis.from_url(url)
    try:
        await counter.reserve("b", 1.5, 10.0, 30.0)
        assert await admin.get(f"{prefix}sum:b") == str(int(1.5 * SCALE)).encode()
        assert 25_000 < await admin.pttl(f"{prefix}sum:b") <= 30_000

        await counter.take("k", 4.0, 10.0, 10.0)
        bucket = await admin.hgetall(f"{prefix}bucket:k")
        assert set(bucket) == {b"tokens", b"ts"}
        assert float(bucket[b"tokens"]) == pytest.approx(6.0)
        # Full again 4 s from now, plus a period of slack.
        assert 12_000 < await admin.pttl(f"{prefix}bucket:k") <= 14_000
        await counter.give("k", -26.0, 10.0, 10.0)  # 20 below zero: 3 periods to refill
        assert 38_000 < await admin.pttl(f"{prefix}bucket:k") <= 40_000
    finally:
        await counter.close()
        await admin.aclose()


async def test_idle_bucket_expires_as_full(redis_service: tuple[str, str]) -> None:
    url, prefix = redis_service
    counter = RedisCounter(url, prefix)
    admin = Redis.from_url(url)
    try:
        assert (await counter.take("k", 5.0, 5.0, 0.2)).allowed
        await asyncio.sleep(0.8)  # the key lives at most two periods after its last write
        assert not await admin.exists(f"{prefix}bucket:k")
        assert (await counter.take("k", 5.0, 5.0, 0.2)).allowed
    finally:
        await counter.close()
        await admin.aclose()


async def test_amounts_are_rounded_to_micro_units(redis_service: tuple[str, str]) -> None:
    counter = RedisCounter(*redis_service)
    try:
        assert (await counter.reserve("b", 0.0000004, 1.0, 60.0)).value == 0.0
        assert (await counter.reserve("b", 0.0000006, 1.0, 60.0)).value == 0.000001
        assert await counter.adjust("b", 123_456.789_012, 60.0) == 123_456.789_013
    finally:
        await counter.close()


async def test_a_small_pool_queues_instead_of_failing(redis_service: tuple[str, str]) -> None:
    counter = RedisCounter(*redis_service, max_connections=2)
    try:
        calls = (counter.reserve("hot", 1.0, 50.0, 60.0) for _ in range(500))
        decisions = await asyncio.gather(*calls)
        assert sum(d.allowed for d in decisions) == 50
    finally:
        await counter.close()


async def test_invalid_arguments_are_refused_before_any_io() -> None:
    counter = RedisCounter(f"redis://127.0.0.1:{_free_port()}/0")
    with pytest.raises(ValueError, match="exact range"):
        await counter.reserve("b", 1e10, 1e11, 60.0)
    with pytest.raises(ValueError, match="capacity > 0"):
        await counter.take("k", 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="period_s > 0"):
        await counter.give("k", 1.0, 1.0, 0.0)
    await counter.close()


def test_one_event_loop_at_a_time() -> None:
    counter = RedisCounter(f"redis://127.0.0.1:{_free_port()}/0")
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        with pytest.raises(CounterUnavailable):
            first.run_until_complete(counter.spent("b"))
        with pytest.raises(RuntimeError, match="another event loop"):
            second.run_until_complete(counter.spent("b"))
        first.run_until_complete(counter.close())
        with pytest.raises(CounterUnavailable):  # after close() any loop may use it
            second.run_until_complete(counter.spent("b"))
        second.run_until_complete(counter.close())
    finally:
        first.close()
        second.close()
