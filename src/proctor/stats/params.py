"""What a stats or browsing call asks for, checked before any SQL is built.

Every parameter error is a SpendParamError naming the public parameter; the admin API turns
it into a 400 in the OpenAI error shape.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from proctor.spend.params import (
    BUCKETS,
    DIMENSIONS,
    MAX_BUCKETS,
    SpendParamError,
    parse_by,
    parse_since,
)

MAX_LIMIT = 1000
DEFAULT_LIMIT = 50
_STATUS = re.compile(r"[1-5][0-9]{2}", re.ASCII)
# Request filters that compare a column for equality; the values are always bound.
EQUALITY_FILTERS: dict[str, str] = {
    "model": "public_model",
    "feature": "feature",
    "user": "user",
    "endpoint": "endpoint",
}


@dataclass(frozen=True, slots=True)
class StatsQuery:
    since: float
    until: float
    bucket_seconds: int
    by: str | None  # a DIMENSIONS name

    @property
    def column(self) -> str | None:
        return DIMENSIONS[self.by] if self.by is not None else None


def _default_bucket(window: float) -> int:
    if window <= 2 * 3600:
        return BUCKETS["minute"]
    if window <= 3 * 86400:
        return BUCKETS["hour"]
    return BUCKETS["day"]


def stats_query(params: Mapping[str, str | None], now: float | None = None) -> StatsQuery:
    until = time.time() if now is None else now
    since = parse_since(params.get("since"), until)
    by = parse_by(params.get("by"))
    if len(by) > 1:
        raise SpendParamError("by", "`by` takes one dimension here")
    bucket = (params.get("bucket") or "").strip().lower()
    if not bucket:
        width = _default_bucket(until - since)
    elif bucket in BUCKETS:
        width = BUCKETS[bucket]
    else:
        raise SpendParamError("bucket", f"`bucket` must be one of {', '.join(BUCKETS)}")
    buckets = int(until // width) - int(since // width) + 1
    if buckets > MAX_BUCKETS:
        raise SpendParamError(
            "bucket",
            f"this window is {buckets} buckets of {width} s (at most {MAX_BUCKETS}); "
            "choose a coarser bucket or a shorter `since`",
        )
    return StatsQuery(since=since, until=until, bucket_seconds=width, by=by[0] if by else None)


def parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    text = text.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise SpendParamError("limit", f"`limit` must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def parse_epoch(name: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise SpendParamError(name, f"`{name}` must be epoch seconds")
    return value


def _since_or_none(text: str | None, now: float) -> float | None:
    return None if text is None else parse_since(text, now)


@dataclass(frozen=True, slots=True)
class RequestFilter:
    since: float | None = None
    before: float | None = None
    equal: tuple[tuple[str, str], ...] = ()  # (column, value), columns from EQUALITY_FILTERS
    status: int | None = None
    errors_only: bool = False  # status=error: every status >= 400
    q: str | None = None  # a request id prefix, or a session id
    limit: int = DEFAULT_LIMIT


def request_filter(params: Mapping[str, str | None], now: float | None = None) -> RequestFilter:
    until = time.time() if now is None else now
    status_text = (params.get("status") or "").strip().lower()
    status: int | None = None
    if status_text and status_text != "error":
        if not _STATUS.fullmatch(status_text):
            raise SpendParamError("status", "`status` must be an HTTP status or `error`")
        status = int(status_text)
    q = (params.get("q") or "").strip()
    return RequestFilter(
        since=_since_or_none(params.get("since"), until),
        before=parse_epoch("before", params.get("before")),
        equal=tuple(
            (column, value)
            for name, column in EQUALITY_FILTERS.items()
            if (value := params.get(name)) is not None
        ),
        status=status,
        errors_only=status_text == "error",
        q=q or None,
        limit=parse_limit(params.get("limit")),
    )


@dataclass(frozen=True, slots=True)
class EventFilter:
    kind: str | None = None
    since: float | None = None
    limit: int = DEFAULT_LIMIT


def event_filter(params: Mapping[str, str | None], now: float | None = None) -> EventFilter:
    until = time.time() if now is None else now
    return EventFilter(
        kind=params.get("kind") or None,
        since=_since_or_none(params.get("since"), until),
        limit=parse_limit(params.get("limit")),
    )
