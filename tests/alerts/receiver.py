"""A loopback HTTP receiver for alert sinks: records every POST, answers as scripted.

aiohttp runs in a thread of its own, so the receiver serves async tests and the CLI alike.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # the decoded JSON, or None


@dataclass(frozen=True, slots=True)
class Answer:
    status: int = 200
    body: str = "ok"
    delay_s: float = 0.0


class Receiver:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._received: list[Received] = []
        self._script: list[tuple[Answer, str | None]] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def answer_next(self, answer: Answer, count: int = 1, *, path: str | None = None) -> None:
        """The next `count` requests (to `path`, if given) get this answer, then 200 "ok"."""
        with self._lock:
            self._script.extend([(answer, path)] * count)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while len(self._received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"received {len(self._received)} of {count} requests")
                self._lock.wait(left)
            return list(self._received)

    def __enter__(self) -> Receiver:
        self._thread = threading.Thread(target=self._run, daemon=True, name="alert-receiver")
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the receiver did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._port = runner.addresses[0][1]
        self._ready.set()
        await self._stopping.wait()
        await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self._lock:
            answer = Answer()
            for i, (scripted, path) in enumerate(self._script):
                if path is None or path == request.path:
                    answer = scripted
                    del self._script[i]
                    break
            self._received.append(
                Received(request.path, {k.lower(): v for k, v in request.headers.items()}, body)
            )
            self._lock.notify_all()
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        return web.Response(status=answer.status, text=answer.body)
