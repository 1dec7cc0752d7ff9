"""Figures read at scrape time from the gateway's live state: nothing is kept up to date for
them on the request path, each scrape reads the current values once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from proctor.telemetry.labels import LabelCap

if TYPE_CHECKING:
    from proctor.keys.keyring import Keyring
    from proctor.resilience.breaker import MemoryBreakers
    from proctor.stages.admit import Inflight
    from proctor.store.writer import BatchWriter

# Prometheus has no enum type; the breaker state is a number, ordered by severity.
BREAKER_STATES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


class GatewayState(Protocol):
    """What the collector reads; `proctor.app.Gateway` has all of it."""

    breakers: MemoryBreakers
    inflight: Inflight
    writer: BatchWriter
    keyring: Keyring


class StateCollector:
    """A custom collector: every value is computed when Prometheus scrapes."""

    def __init__(
        self,
        state: GatewayState,
        deployments: LabelCap,
        limits_failures: Callable[[], int],
    ) -> None:
        self.state = state
        self.deployments = deployments
        self.limits_failures = limits_failures

    def collect(self) -> Iterator[Metric]:
        yield self._breakers()
        state = self.state
        yield _gauge("proctor_requests_in_flight", "Requests in flight.", state.inflight.count)
        yield _gauge(
            "proctor_requests_in_flight_limit",
            "Requests in flight beyond which new ones are shed with a 503.",
            state.inflight.limit,
        )
        writer = state.writer
        yield _gauge(
            "proctor_request_log_queue_depth",
            "Records (requests, events) waiting for the batched writer.",
            writer.depth,
        )
        yield _gauge(
            "proctor_request_log_queue_capacity",
            "Records the writer buffers before it drops new ones.",
            writer.max_buffered,
        )
        yield _counter(
            "proctor_request_log_dropped",
            "Records dropped because the writer's buffer was full (or at shutdown).",
            writer.dropped,
        )
        yield _counter(
            "proctor_request_log_written", "Records written to the store.", writer.written
        )
        yield _counter(
            "proctor_request_log_write_failures",
            "Failed batch writes (retried with backoff).",
            writer.failures,
        )
        keyring = state.keyring
        keys = GaugeMetricFamily(
            "proctor_keyring_keys", "Virtual keys in the gateway's keyring.", labels=["state"]
        )
        active = keyring.active_count()
        keys.add_metric(["active"], active)
        keys.add_metric(["revoked"], len(keyring) - active)
        yield keys
        yield _counter(
            "proctor_limits_backend_failures",
            "Rate-limit and budget backend errors (e.g. Redis unreachable).",
            self.limits_failures(),
        )

    def _breakers(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "proctor_breaker_state",
            "Circuit breaker per deployment: 0 closed, 1 half-open, 2 open.",
            labels=["deployment"],
        )
        worst: dict[str, float] = {}
        for key, value in self.state.breakers.snapshot().items():
            label = self.deployments(key)
            # Deployments folded into `other` share one series: report the worst of them.
            worst[label] = max(worst.get(label, 0.0), BREAKER_STATES.get(value, 0.0))
        for label, number in sorted(worst.items()):
            family.add_metric([label], number)
        return family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
