"""Rolling-window series in memory: what alert rules are evaluated over.

Each label (everything; one model; one feature) has a few rings of time buckets, one ring per
resolution, like a round-robin database: 5 s buckets for the last hour, 1 min for 12 h,
10 min for 5 days, 1 h for 30 days. Only the rings that the configured rules reach back to
are kept. A sample is added to one bucket of each ring; a window is summed from the finest
ring that still covers it, so its edges are exact to one bucket of that ring (5 s in a 5 min
window). Buckets are sparse: a quiet label costs nothing.

Latency is kept as a histogram with bins 5% apart, so a percentile is exact to 5% (the upper
edge of its bin is reported). Label sets are bounded: past `max_labels` models (or features),
new ones are counted under `(other)`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# (bucket width in seconds, buckets kept), finest first.
LEVELS: tuple[tuple[float, int], ...] = ((5.0, 720), (60.0, 720), (600.0, 720), (3600.0, 720))
OTHER = "(other)"

Label = tuple[str, str]  # ("all", ""), ("model", "chat"), ("feature", "search")
ALL: Label = ("all", "")

_BIN_BASE = 1.05
_LOG_BASE = math.log(_BIN_BASE)


def latency_bin(ms: float) -> int:
    return 0 if ms <= 1.0 else math.ceil(math.log(ms) / _LOG_BASE - 1e-9)


def bin_upper_ms(index: int) -> float:
    return _BIN_BASE**index


class Bucket:
    """Sums over one bucket of time, or over a window of them."""

    __slots__ = (
        "blocked",
        "cost_usd",
        "errors",
        "feedback_n",
        "feedback_sum",
        "latency",
        "refused",
        "requests",
        "toxic",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.cost_usd = 0.0
        self.blocked = 0
        self.toxic = 0
        self.refused = 0
        self.feedback_sum = 0.0
        self.feedback_n = 0
        self.latency: dict[int, int] = {}

    def merge(self, other: Bucket) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.cost_usd += other.cost_usd
        self.blocked += other.blocked
        self.toxic += other.toxic
        self.refused += other.refused
        self.feedback_sum += other.feedback_sum
        self.feedback_n += other.feedback_n
        for index, count in other.latency.items():
            self.latency[index] = self.latency.get(index, 0) + count

    def percentile_ms(self, q: float) -> float | None:
        """The q-th percentile (0-100) of latency: the upper edge of the bin it falls in."""
        total = sum(self.latency.values())
        if total == 0:
            return None
        rank = max(1, math.ceil(total * q / 100))
        seen = 0
        for index in sorted(self.latency):
            seen += self.latency[index]
            if seen >= rank:
                return bin_upper_ms(index)
        return bin_upper_ms(max(self.latency))  # pragma: no cover - rank <= total


@dataclass(frozen=True, slots=True)
class Sample:
    """One finished request, as the series see it."""

    error: bool
    latency_ms: float
    cost_usd: float
    blocked: bool
    toxic: bool
    refused: bool = False


class _Ring:
    __slots__ = ("buckets", "keep", "latest", "width")

    def __init__(self, width: float, keep: int) -> None:
        self.width = width
        self.keep = keep
        self.buckets: dict[int, Bucket] = {}
        self.latest = -1

    @property
    def reach_s(self) -> float:
        return self.width * (self.keep - 1)

    def at(self, t: float) -> Bucket:
        index = math.floor(t / self.width)
        bucket = self.buckets.get(index)
        if bucket is None:
            bucket = self.buckets[index] = Bucket()
            if index > self.latest:
                self.latest = index
                if len(self.buckets) > self.keep:
                    cutoff = index - self.keep
                    for old in [i for i in self.buckets if i <= cutoff]:
                        del self.buckets[old]
        return bucket

    def total(self, first: int, last: int) -> Bucket:
        out = Bucket()
        if last - first + 1 > len(self.buckets):
            indices: Iterable[int] = (i for i in self.buckets if first <= i <= last)
        else:
            indices = range(first, last + 1)
        for index in indices:
            bucket = self.buckets.get(index)
            if bucket is not None:
                out.merge(bucket)
        return out


class Series:
    """All the rings of one label."""

    __slots__ = ("first_seen", "rings")

    def __init__(self, levels: Iterable[tuple[float, int]], first_seen: float) -> None:
        self.rings = [_Ring(width, keep) for width, keep in levels]
        self.first_seen = first_seen

    def add(self, t: float, sample: Sample) -> None:
        latency = latency_bin(sample.latency_ms)
        for ring in self.rings:
            bucket = ring.at(t)
            bucket.requests += 1
            bucket.errors += sample.error
            bucket.cost_usd += sample.cost_usd
            bucket.blocked += sample.blocked
            bucket.toxic += sample.toxic
            bucket.refused += sample.refused
            bucket.latency[latency] = bucket.latency.get(latency, 0) + 1

    def add_feedback(self, t: float, score: float) -> None:
        for ring in self.rings:
            bucket = ring.at(t)
            bucket.feedback_sum += score
            bucket.feedback_n += 1

    def _ring(self, age_s: float) -> _Ring:
        for ring in self.rings:
            if ring.reach_s >= age_s:
                return ring
        return self.rings[-1]

    def window(self, start: float, now: float) -> tuple[Bucket, float]:
        """Totals of (start, now], and the seconds of it this series has existed for."""
        ring = self._ring(now - start)
        width = ring.width
        born = math.floor(self.first_seen / width)
        first = max(math.floor(start / width) + 1, born)
        last = math.floor(now / width)
        if last < first:
            return Bucket(), 0.0
        return ring.total(first, last), now - max(start, born * width)

    def before(self, start: float, end: float, now: float) -> tuple[Bucket, float]:
        """Totals of the whole buckets within [start, end), and the seconds they cover."""
        ring = self._ring(now - start)
        width = ring.width
        first = max(math.ceil(start / width), math.floor(self.first_seen / width))
        last = math.floor(end / width) - 1
        if last < first:
            return Bucket(), 0.0
        return ring.total(first, last), (last - first + 1) * width


def levels_for(reach_s: float) -> tuple[tuple[float, int], ...]:
    """The rings needed to look `reach_s` back: the finest first, up to the first that covers."""
    chosen: list[tuple[float, int]] = []
    for width, keep in LEVELS:
        chosen.append((width, keep))
        if width * (keep - 1) >= reach_s:
            break
    return tuple(chosen)


class SeriesStore:
    """The series of every label, bounded per dimension."""

    def __init__(
        self,
        levels: tuple[tuple[float, int], ...],
        dimensions: Iterable[str] = (),
        max_labels: int = 100,
    ) -> None:
        self.levels = levels
        self.dimensions = frozenset(dimensions)
        self.max_labels = max_labels
        self._series: dict[Label, Series] = {}
        self._counts: dict[str, int] = {}

    def series(self, label: Label) -> Series | None:
        return self._series.get(label)

    def labels(self, dimension: str) -> list[Label]:
        return [label for label in self._series if label[0] == dimension]

    def _get(self, dimension: str, value: str, t: float) -> Series:
        label = (dimension, value)
        series = self._series.get(label)
        if series is not None:
            return series
        if dimension != "all":
            if self._counts.get(dimension, 0) >= self.max_labels:
                return self._get(dimension, OTHER, t) if value != OTHER else self._make(label, t)
            self._counts[dimension] = self._counts.get(dimension, 0) + 1
        return self._make(label, t)

    def _make(self, label: Label, t: float) -> Series:
        series = self._series[label] = Series(self.levels, t)
        return series

    def _targets(self, t: float, model: str | None, feature: str | None) -> list[Series]:
        targets = [self._get("all", "", t)]
        if model and "model" in self.dimensions:
            targets.append(self._get("model", model, t))
        if feature and "feature" in self.dimensions:
            targets.append(self._get("feature", feature, t))
        return targets

    def add(self, t: float, sample: Sample, model: str | None, feature: str | None) -> None:
        for series in self._targets(t, model, feature):
            series.add(t, sample)

    def add_feedback(self, t: float, score: float, model: str | None, feature: str | None) -> None:
        for series in self._targets(t, model, feature):
            series.add_feedback(t, score)
