"""The stored form of a trace span: one row of the `spans` table (migration 4)."""

from __future__ import annotations

import msgspec


class SpanRecord(msgspec.Struct, frozen=True):
    trace_id: str  # 32 lower-case hex digits
    span_id: str  # 16 lower-case hex digits
    parent_id: str | None  # None for a root without a caller's span
    # Set on the gateway's root span only, so that finding a request's or a session's
    # traces reads the roots alone.
    request_id: str | None
    session: str | None
    name: str
    kind: str  # "server", "client" or "internal"
    start_ns: int  # Unix epoch nanoseconds
    end_ns: int
    status: str  # "unset", "ok" or "error"
    status_message: str | None
    attributes: str  # JSON object
    events: str  # JSON array of {name, time_ns, attributes}


SPAN_COLUMNS: tuple[str, ...] = SpanRecord.__struct_fields__
