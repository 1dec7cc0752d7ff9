"""Load balancing across a model's deployments: weighted, least-latency (EWMA), least-busy."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from proctor.config import Strategy
from proctor.providers.base import Deployment


@dataclass(slots=True)
class DeploymentStats:
    ewma_ms: float | None = None
    inflight: int = 0


class Balancer:
    """Keeps per-deployment latency and load, and orders deployments by a strategy."""

    # Weight of the newest sample in the moving average; ~ the last 10 requests dominate.
    ALPHA = 0.2

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.stats: dict[str, DeploymentStats] = {}

    def _stats(self, name: str) -> DeploymentStats:
        stats = self.stats.get(name)
        if stats is None:
            stats = self.stats[name] = DeploymentStats()
        return stats

    def started(self, name: str) -> None:
        self._stats(name).inflight += 1

    def finished(self, name: str, latency_ms: float | None) -> None:
        stats = self._stats(name)
        stats.inflight = max(0, stats.inflight - 1)
        if latency_ms is not None:
            previous = stats.ewma_ms
            stats.ewma_ms = (
                latency_ms if previous is None else previous + self.ALPHA * (latency_ms - previous)
            )

    def order(self, deployments: Sequence[Deployment], strategy: Strategy) -> list[Deployment]:
        if len(deployments) == 1:
            return [deployments[0]]
        if strategy == "least-busy":
            shuffled = self._weighted(deployments)  # ties broken by weight
            return sorted(shuffled, key=lambda d: self._stats(d.name).inflight)
        if strategy == "least-latency":
            unknown = [d for d in deployments if self._stats(d.name).ewma_ms is None]
            if unknown:
                # Measure every deployment before trusting the averages.
                return unknown + [d for d in self._weighted(deployments) if d not in unknown]
            return sorted(deployments, key=lambda d: self._stats(d.name).ewma_ms or 0.0)
        return self._weighted(deployments)

    def _weighted(self, deployments: Sequence[Deployment]) -> list[Deployment]:
        """Weighted sampling without replacement (Efraimidis-Spirakis keys)."""
        keyed = [(self.rng.random() ** (1.0 / d.weight), d) for d in deployments]
        keyed.sort(key=lambda pair: pair[0], reverse=True)
        return [d for _, d in keyed]
