from __future__ import annotations

import random

from proctor.providers.base import Deployment
from proctor.resilience.balance import Balancer

A = Deployment("m", "p", "a")
B = Deployment("m", "p", "b")


def test_least_latency_measures_unknown_deployments_first_then_prefers_fastest() -> None:
    balancer = Balancer(random.Random(1))
    balancer.started(A.name)
    balancer.finished(A.name, 50.0)
    assert balancer.order([A, B], "least-latency")[0] == B  # B not measured yet
    balancer.started(B.name)
    balancer.finished(B.name, 10.0)
    assert balancer.order([A, B], "least-latency") == [B, A]
    for _ in range(20):  # B gets slow: the moving average follows
        balancer.started(B.name)
        balancer.finished(B.name, 200.0)
    assert balancer.order([A, B], "least-latency") == [A, B]


def test_least_busy_prefers_fewer_requests_in_flight() -> None:
    balancer = Balancer(random.Random(1))
    balancer.started(A.name)
    balancer.started(A.name)
    balancer.started(B.name)
    assert balancer.order([A, B], "least-busy") == [B, A]
    balancer.finished(A.name, None)
    balancer.finished(A.name, None)
    assert balancer.order([A, B], "least-busy") == [A, B]
