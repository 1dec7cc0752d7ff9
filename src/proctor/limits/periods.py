"""Budget periods: the id of the current period (part of the counter key) and when it ends.

Periods are calendar periods in UTC, so every replica agrees on when a daily budget resets
without coordinating: the key changes at midnight UTC and the old one expires.
"""

from __future__ import annotations

import datetime as dt

from proctor.config import Period

# Keep a finished period's sum a while after it ends (for late settlements and reports).
_GRACE_S = 3600.0
_TOTAL_TTL_S = 10 * 365 * 86400.0


def period_id(period: Period, now: dt.datetime) -> str:
    if period == "minute":
        return now.strftime("%Y-%m-%dT%H:%M")
    if period == "hour":
        return now.strftime("%Y-%m-%dT%H")
    if period == "day":
        return now.strftime("%Y-%m-%d")
    if period == "month":
        return now.strftime("%Y-%m")
    return "all"


def period_end(period: Period, now: dt.datetime) -> dt.datetime | None:
    """When the current period ends (None: never)."""
    start = now.replace(second=0, microsecond=0)
    if period == "minute":
        return start + dt.timedelta(minutes=1)
    start = start.replace(minute=0)
    if period == "hour":
        return start + dt.timedelta(hours=1)
    start = start.replace(hour=0)
    if period == "day":
        return start + dt.timedelta(days=1)
    if period == "month":
        first = start.replace(day=1)
        return (first + dt.timedelta(days=32)).replace(day=1)
    return None


def ttl_s(period: Period, now: dt.datetime) -> float:
    end = period_end(period, now)
    if end is None:
        return _TOTAL_TTL_S
    return (end - now).total_seconds() + _GRACE_S


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
