"""Active health probes feed the breaker without user traffic."""

from __future__ import annotations

import asyncio

from proctor import config as config_mod
from proctor.app import Gateway
from proctor.resilience.breaker import State


def _config(error_rate: float) -> config_mod.Config:
    return config_mod.from_dict(
        {
            "store": {"url": "sqlite:///:memory:"},
            "providers": {"flaky": {"type": "sim", "error_rate": error_rate}},
            "models": {
                "chat": {
                    "deployments": [
                        {"provider": "flaky", "model": "m", "probe": {"every_s": 0.02}}
                    ],
                    "breaker": {"consecutive_failures": 3, "cooldown_s": 0.1},
                }
            },
        }
    )


async def _wait_for(gateway: Gateway, state: State) -> None:
    for _ in range(500):
        if gateway.breakers.state("flaky/m") is state:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"breaker never became {state}")


async def test_failing_probes_open_the_breaker_and_passing_ones_close_it() -> None:
    async with Gateway(_config(1.0)) as gateway:
        await _wait_for(gateway, State.OPEN)
        # The deployment recovers: after the cooldown a probe is the half-open trial.
        await gateway.reload(_config(0.0))
        await _wait_for(gateway, State.CLOSED)
