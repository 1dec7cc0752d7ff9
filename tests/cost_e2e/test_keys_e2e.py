"""Virtual keys through the running gateway: authentication, attribution, per-key budgets
and rate limits, model allowlists."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway_server import ServerThread, running_gateway, sim_config

CHAT = {"model": "sim-small", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[ServerThread]:
    with running_gateway(sim_config(tmp_path)) as server:
        server.db = tmp_path / "proctor.db"  # type: ignore[attr-defined]
        yield server


def _create(server: ServerThread, **fields: Any) -> dict[str, Any]:
    reply = httpx.post(server.url + "/admin/keys", json={"name": "t", **fields}, timeout=10)
    assert reply.status_code == 201, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _chat(server: ServerThread, secret: str | None, **extra: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {secret}"} if secret else {}
    return httpx.post(
        server.url + "/v1/chat/completions", json={**CHAT, **extra}, headers=headers, timeout=30
    )


def test_once_a_key_exists_every_call_needs_a_valid_one(gateway: ServerThread) -> None:
    assert _chat(gateway, None).status_code == 200  # no keys yet: open on loopback
    key = _create(gateway, tenant="acme", team="ml", user="ann")
    missing = _chat(gateway, None)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_api_key"
    wrong = _chat(gateway, "pk-not-a-real-key")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    ok = httpx.post(
        gateway.url + "/v1/chat/completions",
        json=CHAT,
        headers={"x-api-key": key["secret"]},
        timeout=30,
    )
    assert ok.status_code == 200
    # Anthropic clients send x-api-key too, and get their own error shape.
    anthropic = httpx.post(
        gateway.url + "/v1/messages",
        json={
            "model": "sim-small",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
        },
        timeout=30,
    )
    assert anthropic.status_code == 401
    assert anthropic.json()["error"]["type"] == "authentication_error"
    row = _row(gateway, ok.headers["x-request-id"])
    assert (row["tenant"], row["team"], row["user"], row["key_id"]) == (
        "acme",
        "ml",
        "ann",
        key["id"],
    )
    assert row["cost_usd"] > 0


def test_a_revoked_key_is_refused(gateway: ServerThread) -> None:
    key = _create(gateway)
    assert _chat(gateway, key["secret"]).status_code == 200
    assert httpx.delete(f"{gateway.url}/admin/keys/{key['id']}", timeout=10).status_code == 200
    revoked = _chat(gateway, key["secret"])
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "revoked_api_key"


def test_a_key_over_its_budget_gets_429_naming_the_budget(gateway: ServerThread) -> None:
    key = _create(gateway, budget_usd=0.0002, budget_period="day")
    statuses = [_chat(gateway, key["secret"]) for _ in range(10)]
    refused = [r for r in statuses if r.status_code == 429]
    assert refused, [r.status_code for r in statuses]
    error = refused[0].json()["error"]
    assert error["code"] == "budget_exceeded"
    assert "key budget" in error["message"]
    assert f"key={key['id']}" in error["message"]
    assert int(refused[0].headers["retry-after"]) > 0


def test_key_rate_limit_sets_headers_and_refuses_with_retry_after(gateway: ServerThread) -> None:
    key = _create(gateway, rpm=2)
    first = _chat(gateway, key["secret"])
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert _chat(gateway, key["secret"]).status_code == 200
    third = _chat(gateway, key["secret"])
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(third.headers["retry-after"]) >= 1


def test_a_key_limited_to_some_models_cannot_use_others(gateway: ServerThread) -> None:
    key = _create(gateway, models=["sim-embed"])
    refused = _chat(gateway, key["secret"])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_allowed"


def _row(server: ServerThread, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sqlite3.connect(server.db) as conn:  # type: ignore[attr-defined]
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
        if row is not None:
            return dict(row)
        time.sleep(0.05)
    raise AssertionError("request not logged")
