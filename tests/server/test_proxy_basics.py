from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx

from tests.gateway_server import ServerThread


def post(server: ServerThread, path: str, body: object, **kw: object) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(server.url + path, content=data, timeout=30, **kw)  # type: ignore[arg-type]


def test_chat_completion_has_contract_headers(gateway: ServerThread) -> None:
    reply = post(
        gateway,
        "/v1/chat/completions",
        {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert reply.status_code == 200
    assert reply.headers["x-request-id"].startswith("req_")
    assert reply.headers["x-proctor-model"] == "sim/small"
    assert reply.headers["x-proctor-attempts"] == "1"
    timing = reply.headers["server-timing"]
    for stage in ("identify", "admit", "route", "call", "settle", "total"):
        assert f"{stage};dur=" in timing
    body = reply.json()
    assert body["model"] == "sim/small"
    assert body["choices"][0]["message"]["content"].startswith("[simulated by sim/small]")


def test_request_is_logged_with_tags(gateway: ServerThread, tmp_path: Path) -> None:
    reply = post(
        gateway,
        "/v1/chat/completions",
        {
            "model": "sim-small",
            "user": "u-1",
            "metadata": {"feature": "search"},
            "messages": [{"role": "user", "content": "hi"}],
        },
        headers={"x-proctor-endpoint": "/search", "x-proctor-session": "s-9"},
    )
    request_id = reply.headers["x-request-id"]
    row = None
    deadline = time.monotonic() + 10
    while row is None and time.monotonic() < deadline:
        time.sleep(0.05)
        with sqlite3.connect(tmp_path / "proctor.db") as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
    assert row is not None
    assert (row["user"], row["feature"], row["endpoint"], row["session"]) == (
        "u-1",
        "search",
        "/search",
        "s-9",
    )
    assert row["status"] == 200
    assert row["deployment"] == "sim/small"
    assert row["prompt_tokens"] > 0
    assert row["completion_tokens"] > 0
    assert set(json.loads(row["stage_ms"])) == {
        "identify",
        "admit",
        "guard_in",  # the default guards (docs/guardrails.md)
        "guard_out",
        "route",
        "call",
        "settle",
    }
    assert json.loads(row["attempts"])[0]["status"] == 200


def test_unknown_model_is_404_in_openai_shape(gateway: ServerThread) -> None:
    reply = post(
        gateway,
        "/v1/chat/completions",
        {"model": "nope", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert reply.status_code == 404
    error = reply.json()["error"]
    assert error["code"] == "model_not_found"
    assert "nope" in error["message"]


def test_models_lists_public_names(gateway: ServerThread) -> None:
    reply = httpx.get(gateway.url + "/v1/models")
    assert {m["id"] for m in reply.json()["data"]} == {"sim-small", "sim-embed"}


def test_health_and_readiness(gateway: ServerThread) -> None:
    assert httpx.get(gateway.url + "/healthz").status_code == 200
    ready = httpx.get(gateway.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_unknown_route_is_openai_shaped_404(gateway: ServerThread) -> None:
    reply = httpx.get(gateway.url + "/v1/nothing")
    assert reply.status_code == 404
    assert "error" in reply.json()
