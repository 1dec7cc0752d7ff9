"""Shared HTTP plumbing for the adapters: one aiohttp pool per provider, errors mapped to the
proctor exception tree, SSE streams with an idle timeout between chunks.

Every failure that is not the provider's well-formed answer becomes an `UpstreamError` naming
the provider, so that the caller gets a clean 502/504 and the resilience layer can decide.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncGenerator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import msgspec

from proctor.errors import (
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
)
from proctor.wire.sse import Event, SSEDecoder

_decoder = msgspec.json.Decoder()


class HttpClient:
    """A connection pool to one provider; created inside the running event loop."""

    def __init__(
        self,
        provider: str,
        *,
        timeout_s: float,
        connect_timeout_s: float,
        max_connections: int,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.provider = provider
        # sock_read bounds the silence between two reads (aiohttp enforces it without a timer
        # task per chunk); the executor applies the deployment's tighter first-token and idle
        # limits on top.
        self.timeout = aiohttp.ClientTimeout(
            total=timeout_s,
            sock_connect=connect_timeout_s,
            connect=connect_timeout_s,
            sock_read=timeout_s,
        )
        self.max_connections = max_connections
        self.headers = dict(headers or {})
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections, ttl_dns_cache=300, enable_cleanup_closed=True
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                headers=self.headers,
                skip_auto_headers=("User-Agent",),
                json_serialize=lambda obj: msgspec.json.encode(obj).decode(),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"provider '{self.provider}' is not started")
        return self._session

    async def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> Any:
        """POST a JSON body and return the decoded JSON answer, or raise an UpstreamError."""
        try:
            async with self.session.post(url, data=body, headers=headers) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise self.status_error(response.status, response.headers, raw)
        except UpstreamError:
            raise
        except Exception as exc:
            raise self.transport_error(exc) from exc
        try:
            return _decoder.decode(raw)
        except msgspec.DecodeError:
            raise UpstreamProtocolError(
                self.provider, f"answered with a body that is not JSON: {raw[:120]!r}"
            ) from None

    async def get(self, url: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        try:
            async with self.session.get(url, headers=headers) as response:
                return response.status, await response.read()
        except Exception as exc:
            raise self.transport_error(exc) from exc

    async def stream_events(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> AsyncGenerator[Event, None]:
        """POST and yield server-sent events as they arrive."""
        try:
            response = await self.session.post(url, data=body, headers=headers)
        except Exception as exc:
            raise self.transport_error(exc) from exc
        try:
            if response.status >= 400:
                raw = await response.read()
                raise self.status_error(response.status, response.headers, raw)
            content_type = response.headers.get("content-type", "")
            if "text/event-stream" not in content_type:
                raw = await response.read()
                raise UpstreamProtocolError(
                    self.provider,
                    f"expected an event stream, got {content_type or 'no content type'}: "
                    f"{raw[:120]!r}",
                )
            decoder = SSEDecoder()
            while True:
                chunk = await response.content.readany()
                if not chunk:
                    break
                for event in decoder.feed(chunk):
                    yield event
            for event in decoder.flush():
                yield event
        except UpstreamError:
            raise
        except Exception as exc:
            raise self.transport_error(exc) from exc
        finally:
            with contextlib.suppress(Exception):
                response.release()

    def status_error(
        self, status: int, headers: Mapping[str, str], raw: bytes
    ) -> UpstreamStatusError:
        return UpstreamStatusError(
            self.provider,
            status,
            error_message(raw),
            retry_after_s=retry_after(headers),
        )

    def transport_error(self, exc: BaseException) -> UpstreamError:
        if isinstance(exc, TimeoutError | asyncio.TimeoutError):
            return UpstreamTimeout(self.provider, "timed out")
        if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
            return UpstreamProtocolError(self.provider, f"connection dropped: {exc}")
        if isinstance(exc, aiohttp.ClientConnectionError | OSError):
            return UpstreamConnectionError(self.provider, f"cannot connect: {exc}")
        return UpstreamProtocolError(self.provider, f"{type(exc).__name__}: {exc}")


def error_message(raw: bytes) -> str:
    """The human message inside a provider's error body, whichever shape it has."""
    try:
        body = _decoder.decode(raw)
    except msgspec.DecodeError:
        return raw[:200].decode("utf-8", errors="replace") or "no body"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return raw[:200].decode("utf-8", errors="replace")


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        with contextlib.suppress(ValueError):
            return max(0.0, float(ms) / 1000)
    value = headers.get("retry-after")
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        when = parsedate_to_datetime(value)
        return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
    return None
