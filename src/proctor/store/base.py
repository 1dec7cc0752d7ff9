"""Narrow storage protocols; each backend implements the ones it supports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from proctor.store.records import Record


class RequestLog(Protocol):
    """Where request records go. Writes arrive in batches from the background writer."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def write_batch(self, records: Sequence[Record]) -> None: ...

    async def get_request(self, request_id: str) -> dict[str, Any] | None: ...

    async def recent_requests(self, limit: int = 50) -> list[dict[str, Any]]: ...

    async def recent_events(
        self, limit: int = 50, kind: str | None = None
    ) -> list[dict[str, Any]]: ...

    async def count_requests(self) -> int: ...


def open_store(url: str) -> RequestLog:
    if url.startswith("sqlite://"):
        from proctor.store.sqlite import SQLiteStore

        return SQLiteStore(url)
    raise ValueError(f"no store backend for {url!r} in this version (sqlite:// is built in)")
