"""Bounded label values: a metric label fed from free text must not grow without limit.

Every distinct label value is a new time series in Prometheus. Values the configuration
bounds (public models, providers) pass unchanged; values a caller chooses (a feature header,
an unknown model name) keep the first `limit` distinct values seen, and every later new
value is counted under `other`. Long values are cut to `max_length` characters.
"""

from __future__ import annotations

NONE = "none"
OTHER = "other"


class LabelCap:
    __slots__ = ("_seen", "limit", "max_length")

    def __init__(self, limit: int, max_length: int = 64) -> None:
        self.limit = limit
        self.max_length = max_length
        self._seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if not value:
            return NONE
        if value in self._seen:
            return value
        if len(value) > self.max_length:
            value = value[: self.max_length]
            if value in self._seen:
                return value
        if len(self._seen) >= self.limit:
            return OTHER
        self._seen.add(value)
        return value

    def __len__(self) -> int:
        return len(self._seen)
