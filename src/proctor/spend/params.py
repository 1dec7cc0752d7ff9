"""What a spend report asks for, parsed and checked before any SQL is built.

Everything a caller can type (CLI options, query parameters) passes through here; the SQL
builder only ever sees the whitelisted names and numbers this module returns.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

# Public dimension name -> the request-log column it groups by. The public names are the
# contract (`proctor spend --by model,key`); the columns are an implementation detail.
DIMENSIONS: dict[str, str] = {
    "user": "user",
    "feature": "feature",
    "endpoint": "endpoint",
    "model": "public_model",
    "deployment": "deployment",
    "provider": "provider",
    "key": "key_id",
    "team": "team",
    "tenant": "tenant",
    "environment": "environment",
}

BUCKETS: dict[str, int] = {"minute": 60, "hour": 3600, "day": 86400}

_UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# ASCII digits only: \d would also take other scripts' digits, which int() accepts.
_DURATION = re.compile(r"([0-9]{1,7})([smhdw])", re.ASCII)

DEFAULT_SINCE = "24h"
DEFAULT_TOP = 10
MAX_TOP = 1000
# Series are zero-filled, so the bucket count is bounded by the window, not by the data;
# this keeps `--series minute --since 365d` from building a half-million-row answer.
MAX_BUCKETS = 2000

SINCE_HELP = "a duration like 15m, 24h, 7d, 30d (units s, m, h, d, w) or an ISO 8601 time"


class SpendParamError(ValueError):
    """A parameter a caller gave is not acceptable; `param` is its public name."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True, slots=True)
class SpendQuery:
    since: float  # epoch seconds, inclusive
    until: float  # epoch seconds: when the report was asked for
    since_text: str = DEFAULT_SINCE
    by: tuple[str, ...] = ()  # public dimension names, in the caller's order
    top: int = DEFAULT_TOP
    series: str | None = None  # a BUCKETS name

    @property
    def bucket_seconds(self) -> int | None:
        return BUCKETS[self.series] if self.series is not None else None


def _shown(text: str) -> str:
    # Echo at most a little of what was given: error messages are not a place for payloads.
    return repr(text if len(text) <= 40 else text[:40] + "...")


def parse_by(text: str | None) -> tuple[str, ...]:
    """`user,feature` -> ("user", "feature"); repeats are dropped, order is kept."""
    names: list[str] = []
    for part in (text or "").split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name not in DIMENSIONS:
            raise SpendParamError(
                "by",
                f"`by` has an unknown dimension {_shown(part.strip())}; "
                f"allowed: {', '.join(DIMENSIONS)}",
            )
        if name not in names:
            names.append(name)
    return tuple(names)


def parse_since(text: str | None, now: float) -> float:
    """A relative window back from `now`, or an absolute time (naive times are UTC)."""
    given = (text or DEFAULT_SINCE).strip()
    match = _DURATION.fullmatch(given)
    if match:
        seconds = int(match[1]) * _UNITS[match[2]]
        if seconds <= 0:
            raise SpendParamError("since", "`since` must be a window longer than zero")
        return now - seconds
    try:
        at = datetime.fromisoformat(given)
    except ValueError:
        raise SpendParamError(
            "since", f"`since` must be {SINCE_HELP}; got {_shown(given)}"
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    try:
        since = at.timestamp()
    except (OverflowError, OSError, ValueError):
        raise SpendParamError("since", f"`since` is out of range: {_shown(given)}") from None
    if since > now:
        raise SpendParamError("since", f"`since` is in the future: {_shown(given)}")
    return since


def parse_top(value: int | str | None) -> int:
    if value is None:
        return DEFAULT_TOP
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_TOP:
        raise SpendParamError(
            "top", f"`top` must be a whole number from 1 to {MAX_TOP}; got {_shown(text)}"
        )
    return int(text)


def parse_series(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    name = text.strip().lower()
    if name not in BUCKETS:
        raise SpendParamError(
            "series", f"`series` must be one of {', '.join(BUCKETS)}; got {_shown(text)}"
        )
    return name


def spend_query(
    *,
    by: str | None = None,
    since: str | None = None,
    top: int | str | None = None,
    series: str | None = None,
    now: float | None = None,
) -> SpendQuery:
    """Check every parameter; raises SpendParamError naming the first bad one."""
    until = time.time() if now is None else now
    query = SpendQuery(
        by=parse_by(by),
        since=parse_since(since, until),
        until=until,
        since_text=(since or DEFAULT_SINCE).strip(),
        top=parse_top(top),
        series=parse_series(series),
    )
    width = query.bucket_seconds
    if width is not None:
        buckets = int(query.until // width) - int(query.since // width) + 1
        if buckets > MAX_BUCKETS:
            raise SpendParamError(
                "series",
                f"`series={query.series}` over this window is {buckets} buckets "
                f"(at most {MAX_BUCKETS}); choose a coarser series or a shorter `since`",
            )
    return query
