"""Budgets cannot be bypassed: direct `provider/model` requests are counted, and a model
with no price cannot run under a budget."""

from __future__ import annotations

from pathlib import Path

import httpx

from proctor import config as config_mod
from tests.gateway_server import running_gateway


def _config(tmp_path: Path) -> config_mod.Config:
    return config_mod.from_dict(
        {
            "store": {"url": f"sqlite:///{tmp_path / 'log.db'}"},
            "providers": {
                "sim": {"type": "sim"},
                "other": {"type": "openai", "api_key": "k", "base_url": "http://127.0.0.1:9/v1"},
            },
            "models": {
                "chat": {"deployments": [{"provider": "sim", "model": "small"}]},
                "mystery": {"deployments": [{"provider": "other", "model": "no-such-price"}]},
            },
            "budgets": [{"scope": "user", "limit_usd": 0.0003, "period": "day"}],
        }
    )


def _chat(url: str, model: str, user: str) -> httpx.Response:
    body = {
        "model": model,
        "user": user,
        "max_tokens": 20,
        "messages": [{"role": "user", "content": "x"}],
    }
    return httpx.post(url + "/v1/chat/completions", json=body, timeout=30)


def test_direct_provider_model_requests_count_against_budgets(tmp_path: Path) -> None:
    with running_gateway(_config(tmp_path)) as server:
        public = [_chat(server.url, "chat", "ann").status_code for _ in range(20)]
        direct = [_chat(server.url, "sim/small", "bob").status_code for _ in range(20)]
    assert 429 in public
    # The same budget refuses the same spend when the provider is addressed directly.
    assert direct.count(200) == public.count(200)
    assert 429 in direct


def test_an_unpriced_model_cannot_run_under_a_budget(tmp_path: Path) -> None:
    with running_gateway(_config(tmp_path)) as server:
        reply = _chat(server.url, "mystery", "ann")
        unattributed = httpx.post(
            server.url + "/v1/chat/completions",
            json={"model": "chat", "messages": [{"role": "user", "content": "x"}]},
            timeout=30,
        )
    assert reply.status_code == 403
    error = reply.json()["error"]
    assert error["code"] == "unpriced_model"
    assert "other/no-such-price" in error["message"]
    # No user, so no per-user budget applies: served as usual.
    assert unattributed.status_code == 200
