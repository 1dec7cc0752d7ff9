"""Cost figures for streamed and non-streamed answers equal the provider-reported usage times
the price table, exactly, cached and reasoning tokens included."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from proctor import config as config_mod
from proctor.testing.upstream import FakeUpstream
from tests.gateway_server import ServerThread, running_gateway

# USD per 1M tokens, chosen so that every component shows in the total.
PRICES = {"input": 2.5, "output": 10.0, "cached_input": 1.25, "cache_write": 3.75, "reasoning": 12}


def _expected(usage: dict[str, Any], api: str) -> Decimal:
    p = {k: Decimal(str(v)) for k, v in PRICES.items()}
    if api == "openai":
        cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
        reasoning = usage.get("completion_tokens_details", {}).get("reasoning_tokens", 0)
        uncached = usage["prompt_tokens"] - cached
        completion = usage["completion_tokens"]
        total = (
            uncached * p["input"]
            + cached * p["cached_input"]
            + (completion - reasoning) * p["output"]
            + reasoning * p["reasoning"]
        )
    else:  # Anthropic: input_tokens exclude cache reads and writes
        total = (
            usage["input_tokens"] * p["input"]
            + usage["cache_read_input_tokens"] * p["cached_input"]
            + usage["cache_creation_input_tokens"] * p["cache_write"]
            + usage["output_tokens"] * p["output"]
        )
    return total / Decimal(1_000_000)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        upstream.cached_tokens = 7
        upstream.cache_creation_tokens = 5
        upstream.reasoning_tokens = 3
        yield upstream


@pytest.fixture(scope="module")
def gateway(fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    db = tmp_path_factory.mktemp("cost") / "log.db"
    config = config_mod.from_dict(
        {
            "store": {"url": f"sqlite:///{db}", "flush_interval_ms": 10},
            "providers": {
                "openai": {"type": "openai", "api_key": "k", "base_url": fake.url + "/v1"},
                "anthropic": {"type": "anthropic", "api_key": "k", "base_url": fake.url},
            },
            "models": {
                "gpt": {"deployments": [{"provider": "openai", "model": "priced-gpt"}]},
                "claude": {"deployments": [{"provider": "anthropic", "model": "priced-claude"}]},
            },
            "pricing": {"priced-*": PRICES},
        }
    )
    with running_gateway(config) as server:
        server.db = db  # type: ignore[attr-defined]
        yield server


def _logged_cost(server: ServerThread, request_id: str) -> float:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sqlite3.connect(server.db) as conn:  # type: ignore[attr-defined]
            row = conn.execute(
                "SELECT cost_usd FROM requests WHERE id = ?", (request_id,)
            ).fetchone()
        if row is not None:
            return float(row[0])
        time.sleep(0.05)
    raise AssertionError("request not logged")


@pytest.mark.parametrize("model", ["gpt", "claude"])
def test_non_streamed_cost_header_is_exact(
    gateway: ServerThread, fake: FakeUpstream, model: str
) -> None:
    reply = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "price this answer"}]},
        timeout=30,
    )
    assert reply.status_code == 200
    upstream = fake.requests[-1]
    assert upstream.path.endswith("/chat/completions" if model == "gpt" else "/messages")
    usage = reply.json()["usage"]
    cost = Decimal(reply.headers["x-proctor-cost-usd"])
    details = usage.get("prompt_tokens_details") or {}
    openai_usage = {
        "prompt_tokens": usage["prompt_tokens"] - details.get("cache_creation_tokens", 0),
        "completion_tokens": usage["completion_tokens"],
        "prompt_tokens_details": {"cached_tokens": details.get("cached_tokens", 0)},
        "completion_tokens_details": usage.get("completion_tokens_details") or {},
    }
    expected = _expected(openai_usage, "openai")
    expected += details.get("cache_creation_tokens", 0) * Decimal("3.75") / Decimal(1_000_000)
    assert cost == expected.quantize(Decimal("1e-8"))
    assert _logged_cost(gateway, reply.headers["x-request-id"]) == pytest.approx(
        float(expected), abs=1e-15
    )


def test_streamed_openai_cost_is_exact(gateway: ServerThread) -> None:
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        json={
            "model": "gpt",
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "price this stream"}],
        },
        timeout=30,
    ) as reply:
        request_id = reply.headers["x-request-id"]
        lines = [line for line in reply.iter_lines() if line.startswith("data: {")]
    import json

    usage = json.loads(lines[-1][6:])["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 7
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 3
    expected = _expected(usage, "openai")
    assert _logged_cost(gateway, request_id) == pytest.approx(float(expected), abs=1e-15)


def test_streamed_anthropic_cost_is_exact(gateway: ServerThread) -> None:
    with httpx.stream(
        "POST",
        gateway.url + "/v1/messages",
        json={
            "model": "claude",
            "max_tokens": 100,
            "stream": True,
            "messages": [{"role": "user", "content": "price this stream"}],
        },
        headers={"anthropic-version": "2023-06-01"},
        timeout=30,
    ) as reply:
        request_id = reply.headers["x-request-id"]
        events = [line for line in reply.iter_lines() if line.startswith("data: {")]
    import json

    usage: dict[str, Any] = {}
    for event in events:
        body = json.loads(event[6:])
        if body["type"] == "message_start":
            usage.update(body["message"]["usage"])
        if body["type"] == "message_delta":
            usage.update(body["usage"])
    assert usage["cache_read_input_tokens"] == 7
    assert usage["cache_creation_input_tokens"] == 5
    expected = _expected(usage, "anthropic")
    assert _logged_cost(gateway, request_id) == pytest.approx(float(expected), abs=1e-15)
