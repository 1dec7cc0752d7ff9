"""Synthetic requests and a hand-driven clock for alert tests."""

from __future__ import annotations

from typing import Any

import yaml

from proctor import config as config_mod
from proctor.alerts import AlertEngine
from proctor.config import AlertsConfig
from proctor.context import Context, Finding
from proctor.wire.types import ChatRequest, Message

T0 = 1_700_000_000.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t


def alerts_config(text: str) -> AlertsConfig:
    """An `alerts:` section from YAML, validated like a whole config file."""
    return config_mod.from_dict({"alerts": yaml.safe_load(text)}).alerts


def engine(text: str, clock: Clock, **kwargs: Any) -> AlertEngine:
    return AlertEngine(alerts_config(text), clock=clock, **kwargs)


def request(
    *,
    model: str = "chat",
    feature: str | None = None,
    status: int = 200,
    latency_ms: float = 100.0,
    cost_usd: float | None = 0.001,
    findings: list[Finding] | None = None,
) -> Context:
    ctx = Context(request=ChatRequest(model=model, messages=[Message(role="user", content="x")]))
    ctx.public_model = model
    ctx.tags.feature = feature
    ctx.status = status
    ctx.cost_usd = cost_usd
    ctx.findings = list(findings or [])
    ctx.finished_ns = ctx.started_ns + int(latency_ms * 1e6)
    return ctx


def requests(count: int, **kwargs: Any) -> list[Context]:
    return [request(**kwargs) for _ in range(count)]
