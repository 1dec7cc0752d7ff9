"""Lean labelled counters and histograms, exposed through prometheus-client's collector API.

prometheus-client's own `Counter.labels(...).inc()` validates and stringifies the labels and
takes a lock on every call; for a dozen updates per finished request that was most of the
observer's cost. These keep plain dicts keyed by label tuples, updated by the writer's loop
only, and build the metric families when Prometheus scrapes (which also happens on the
event loop, so no lock is needed). Label values must already be strings.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

Key = tuple[str, ...]
# How prometheus-client itself prints bucket bounds (Go's float format), so `le` is the same.
_le: Callable[[float], str] = floatToGoString


class CounterVec:
    __slots__ = ("documentation", "labels", "name", "values")

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        self.name = name.removesuffix("_total")
        self.documentation = documentation
        self.labels = list(labels)
        self.values: dict[Key, float] = {}

    def inc(self, key: Key, amount: float = 1.0) -> None:
        values = self.values
        values[key] = values.get(key, 0.0) + amount

    def get(self, *key: str) -> float:
        return self.values.get(key, 0.0)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, value in list(self.values.items()):
            family.add_metric(key, value)
        yield family


class HistogramVec:
    """Per label set: the count in each bucket (not cumulative; the last is +Inf), then the sum."""

    __slots__ = ("_les", "bounds", "documentation", "labels", "name", "series")

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        self.bounds = tuple(sorted(buckets))
        self._les = [_le(b) for b in self.bounds] + ["+Inf"]
        self.series: dict[Key, list[float]] = {}

    def observe(self, key: Key, value: float) -> None:
        counts = self.series.get(key)
        if counts is None:
            counts = self.series[key] = [0.0] * (len(self.bounds) + 2)
        # The first bound >= value: Prometheus buckets are `le` (less than or equal).
        counts[bisect_left(self.bounds, value)] += 1
        counts[-1] += value

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, counts in list(self.series.items()):
            cumulative = 0.0
            buckets: list[tuple[str, float]] = []
            for le, count in zip(self._les, counts, strict=False):
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric(list(key), buckets, sum_value=counts[-1])
        yield family
