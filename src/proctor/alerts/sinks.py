"""Where alerts go: a JSON webhook, a Slack-compatible webhook, or the log.

`send` never raises: it answers a Delivery that says what the other end answered. An HTTP
sink tries `1 + retries` times, each attempt bounded by `timeout_s`, with a doubling backoff
between them; it retries a timeout, a connection error, a 429 or a 5xx, and gives up at once
on any other status (a 400 will not get better).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import msgspec

from proctor.alerts.payload import Alert, slack_body, webhook_body
from proctor.config.alerts import (
    AlertSinkConfig,
    LogSinkConfig,
    SlackSinkConfig,
    WebhookSinkConfig,
)

log = logging.getLogger("proctor.alerts")

_ANSWER_BYTES = 2048
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one sink made of one alert."""

    sink: str
    kind: str
    ok: bool
    attempts: int
    status: int | None = None  # the last HTTP status, if any answer came
    answer: str = ""  # the start of the last answer's body
    error: str | None = None
    elapsed_ms: float = 0.0


class Sessions(Protocol):
    async def session(self) -> aiohttp.ClientSession: ...


class Sink(Protocol):
    name: str
    kind: str

    async def send(self, alert: Alert, sessions: Sessions) -> Delivery: ...


class LogSink:
    kind = "log"

    def __init__(self, config: LogSinkConfig) -> None:
        self.name = config.label
        self.level = _LEVELS[config.level]

    async def send(self, alert: Alert, sessions: Sessions) -> Delivery:
        log.log(self.level, "ALERT %s [%s] %s", alert.status, alert.severity, alert.summary)
        return Delivery(self.name, self.kind, ok=True, attempts=1, answer="logged")


class HttpSink:
    def __init__(
        self,
        config: WebhookSinkConfig | SlackSinkConfig,
        kind: str,
        body: Callable[[Alert], dict[str, Any]],
    ) -> None:
        self.name = config.label
        self.kind = kind
        self.config = config
        self.body = body
        self.headers = {
            "content-type": "application/json",
            "user-agent": "proctor-alerts",
            **config.headers,
        }

    async def send(self, alert: Alert, sessions: Sessions) -> Delivery:
        config = self.config
        data = msgspec.json.encode(self.body(alert))
        start = time.perf_counter()
        status: int | None = None
        answer, error = "", None
        attempts = 0
        for attempt in range(1 + config.retries):
            if attempt:
                await asyncio.sleep(config.backoff_s * 2 ** (attempt - 1))
            attempts += 1
            try:
                async with asyncio.timeout(config.timeout_s):
                    status, answer = await self._post(await sessions.session(), data)
            except TimeoutError:
                status, answer, error = None, "", f"no answer within {config.timeout_s:g} s"
                continue
            except (aiohttp.ClientError, OSError) as exc:
                status, answer, error = None, "", f"{type(exc).__name__}: {exc}"
                continue
            if 200 <= status < 300:
                return self._delivery(True, attempts, status, answer, None, start)
            error = f"HTTP {status}"
            if status != 429 and status < 500:
                break
        return self._delivery(False, attempts, status, answer, error, start)

    async def _post(self, session: aiohttp.ClientSession, data: bytes) -> tuple[int, str]:
        async with session.post(self.config.url, data=data, headers=self.headers) as response:
            body = await response.content.read(_ANSWER_BYTES)
            return response.status, body.decode("utf-8", "replace")

    def _delivery(
        self,
        ok: bool,
        attempts: int,
        status: int | None,
        answer: str,
        error: str | None,
        start: float,
    ) -> Delivery:
        elapsed = (time.perf_counter() - start) * 1000
        return Delivery(self.name, self.kind, ok, attempts, status, answer, error, elapsed)


def make_sink(config: AlertSinkConfig) -> Sink:
    if isinstance(config, WebhookSinkConfig):
        return HttpSink(config, "webhook", webhook_body)
    if isinstance(config, SlackSinkConfig):
        return HttpSink(config, "slack", slack_body)
    return LogSink(config)
