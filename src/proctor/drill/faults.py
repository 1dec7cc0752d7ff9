"""The offline drill: each chain, under each fault kind, against the built-in fake upstream.

The user's config is rewritten so that every deployment gets a provider of its own pointing
at the fake upstream (real HTTP on loopback, the real adapters), and the requested model's
deployments fail in the drilled way while its fallbacks stay healthy. Timeouts are shortened
so that hangs resolve in a second, and each fault is measured against a healthy baseline run
through the same gateway code in the same process.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec

from proctor import config as config_mod
from proctor.app import Gateway
from proctor.config import AnthropicProviderConfig, Config, ProviderConfig
from proctor.context import ChatStream, Context
from proctor.errors import ProctorError
from proctor.wire.types import ChatRequest, Message, StreamOptions

# Drill name -> the fake upstream's fault spec; None means the provider's port is closed.
FAULTS: dict[str, str | None] = {
    "500": "500",
    "503": "503",
    "429": "429 retry_after=1",
    "refused": None,
    "hang": "hang",
    "stall": "stall",
    "drop": "drop after=1",  # mid-stream, after the role chunk, before any content
    "garbage": "malformed after=1",
}
DRILL_TIMEOUTS = {"first_token_s": 1.0, "idle_s": 1.0, "total_s": 3.0}


class Sample(msgspec.Struct, frozen=True):
    ok: bool
    via: str
    latency_ms: float
    breaker_open: bool  # the primary was skipped by its open breaker


class FaultResult(msgspec.Struct):
    model: str
    fault: str
    stream: bool
    requests: int
    succeeded: int
    via: dict[str, int]
    p50_ms: float
    p99_ms: float
    added_p50_ms: float
    added_p99_ms: float
    # Once every primary breaker is open: the steady state of an outage.
    open_requests: int
    open_added_p50_ms: float | None
    open_added_p99_ms: float | None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _fake_provider(original: ProviderConfig, base: str, fault: str | None) -> dict[str, Any]:
    headers = {"x-fake-fault": fault} if fault else {}
    if isinstance(original, AnthropicProviderConfig):
        return {"type": "anthropic", "api_key": "drill", "base_url": base, "headers": headers}
    return {"type": "openai", "api_key": "drill", "base_url": f"{base}/v1", "headers": headers}


def drill_config(
    config: Config,
    model: str,
    fault: str | None,
    fake_url: str,
    refused_url: str,
    timeouts: dict[str, float] | None = None,
) -> Config:
    """`config` with every deployment on its own fake provider; `model`'s ones broken.

    `fault` is a fake-upstream fault spec, `None` for a closed port, `""` for healthy.
    """
    raw = msgspec.to_builtins(config)
    raw["store"] = {"url": "sqlite:///:memory:"}
    raw.pop("drills", None)
    raw["providers"] = {}
    for name, model_raw in raw["models"].items():
        model_raw["timeouts"] = dict(timeouts or DRILL_TIMEOUTS)
        model_raw["deadline_s"] = 30.0
        for i, deployment in enumerate(model_raw["deployments"]):
            original = config.providers[deployment["provider"]]
            broken = name == model
            base = refused_url if broken and fault is None else fake_url
            provider = f"{name}#{i}"
            raw["providers"][provider] = _fake_provider(original, base, fault if broken else "")
            deployment["provider"] = provider
            deployment.pop("timeouts", None)
            deployment.pop("probe", None)
    return config_mod.from_dict(raw, env={})


def models_with_fallbacks(config: Config) -> list[str]:
    return [name for name, model in config.models.items() if model.fallbacks]


async def sample(gateway: Gateway, model: str, stream: bool) -> Sample:
    request = ChatRequest(
        model=model,
        messages=[Message(role="user", content="drill: say something short")],
        max_tokens=16,
        stream=stream,
        stream_options=StreamOptions(include_usage=True) if stream else None,
    )
    ctx = Context(request=request)
    start = time.perf_counter()
    ok = True
    try:
        reply = await gateway.run(ctx)
        if isinstance(reply, ChatStream):
            async for _ in reply:
                pass
    except ProctorError:
        ok = False
    first = ctx.attempts[0] if ctx.attempts else None
    return Sample(
        ok=ok,
        via=(ctx.deployment or "none").split("#")[0] if ok else "none",
        latency_ms=(time.perf_counter() - start) * 1000,
        breaker_open=first is not None and (first.error or "").startswith("skipped"),
    )


async def run_samples(
    config: Config, model: str, requests: int, stream: bool, tick: Callable[[], None]
) -> list[Sample]:
    samples = []
    async with Gateway(config) as gateway:
        for _ in range(requests):
            samples.append(await sample(gateway, model, stream))
            tick()
    return samples


def summarise(
    model: str, fault: str, stream: bool, samples: list[Sample], baseline: list[Sample]
) -> FaultResult:
    base = [s.latency_ms for s in baseline]
    latencies = [s.latency_ms for s in samples]
    opened = [s.latency_ms for s in samples if s.breaker_open]
    base_p50, base_p99 = percentile(base, 0.5), percentile(base, 0.99)
    return FaultResult(
        model=model,
        fault=fault,
        stream=stream,
        requests=len(samples),
        succeeded=sum(s.ok for s in samples),
        via=dict(Counter(s.via for s in samples)),
        p50_ms=round(percentile(latencies, 0.5), 3),
        p99_ms=round(percentile(latencies, 0.99), 3),
        added_p50_ms=round(percentile(latencies, 0.5) - base_p50, 3),
        added_p99_ms=round(percentile(latencies, 0.99) - base_p99, 3),
        open_requests=len(opened),
        open_added_p50_ms=round(percentile(opened, 0.5) - base_p50, 3) if opened else None,
        open_added_p99_ms=round(percentile(opened, 0.99) - base_p99, 3) if opened else None,
    )
