"""Every fault kind, streamed and not, through the real adapters against the fake upstream:
with one healthy fallback every request succeeds; with none each gets a clean error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from proctor import config as config_mod
from proctor.drill.faults import FAULTS, drill_config, run_samples
from proctor.testing.upstream import FakeUpstream, closed_port_url

CHAIN = config_mod.from_dict(
    {
        "providers": {
            "openai": {"type": "openai", "api_key": "k"},
            "anthropic": {"type": "anthropic", "api_key": "k"},
        },
        "models": {
            "chat": {
                "deployments": [{"provider": "openai", "model": "gpt-4o"}],
                "fallbacks": ["claude"],
            },
            "claude": {"deployments": [{"provider": "anthropic", "model": "claude-x"}]},
            "alone": {"deployments": [{"provider": "openai", "model": "gpt-4o"}]},
        },
    }
)


# Short limits so that hangs and stalls resolve quickly; the drill itself uses 1 s.
FAST = {"first_token_s": 0.3, "idle_s": 0.3, "total_s": 0.5}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_one_healthy_fallback_saves_every_request(
    fake: FakeUpstream, fault: str, stream: bool
) -> None:
    config = drill_config(CHAIN, "chat", FAULTS[fault], fake.url, closed_port_url(), FAST)
    samples = await run_samples(config, "chat", 6, stream, lambda: None)
    assert all(s.ok for s in samples), [s for s in samples if not s.ok]
    assert {s.via for s in samples} == {"claude"}
    # Each request fails twice on the primary (one retry): the breaker opens at the third.
    assert any(s.breaker_open for s in samples)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_without_a_fallback_each_request_gets_a_clean_error(
    fake: FakeUpstream, fault: str, stream: bool
) -> None:
    config = drill_config(CHAIN, "alone", FAULTS[fault], fake.url, closed_port_url(), FAST)
    samples = await run_samples(config, "alone", 2, stream, lambda: None)
    assert not any(s.ok for s in samples)
    # Bounded by the short timeouts above: nothing hangs.
    assert max(s.latency_ms for s in samples) < 20_000
