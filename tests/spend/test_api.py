"""GET /admin/spend on a real server: the report, live traffic, auth and bad parameters."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from proctor.store.sqlite import SQLiteStore
from tests.gateway_server import ServerThread, running_gateway, sim_config
from tests.spend.seed import recent_records

pytestmark = pytest.mark.e2e


def _seed(db: Path) -> None:
    async def seed() -> None:
        store = SQLiteStore(f"sqlite:///{db}")
        await store.open()
        await store.write_batch(recent_records(time.time()))
        await store.close()

    asyncio.run(seed())


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[ServerThread]:
    _seed(tmp_path / "proctor.db")  # the file sim_config logs to
    with running_gateway(sim_config(tmp_path)) as server:
        yield server


def get_spend(server: ServerThread, query: str = "", **kw: Any) -> httpx.Response:
    return httpx.get(f"{server.url}/admin/spend{query}", timeout=30, **kw)


def test_report_matches_the_seeded_log(gateway: ServerThread) -> None:
    reply = get_spend(gateway, "?by=user,feature&since=24h&top=2&series=hour")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    report = reply.json()
    assert set(report) == {
        *("since", "since_iso", "until", "until_iso", "window", "by", "top"),
        *("series_bucket", "bucket_seconds", "totals", "groups", "groups_total", "other"),
        "series",
    }
    assert report["totals"] == {
        "requests": 6,
        "errors": 1,
        "prompt_tokens": 1316,
        "completion_tokens": 171,
        "cached_tokens": 510,
        "cost_usd": 1.9375,
        "unknown_cost_requests": 1,
        "cost_per_1k_requests": pytest.approx(1937.5 / 6),
    }
    assert [(g["key"]["user"], g["key"]["feature"]) for g in report["groups"]] == [
        ("bob", "search"),
        ("alice", "chat"),
    ]
    assert report["groups_total"] == 5
    assert report["other"]["cost_usd"] == 0.1875
    assert len(report["series"]) == 25
    assert sum(b["cost_usd"] for b in report["series"]) == 1.9375
    # Repeated `by` works as a list does.
    again = get_spend(gateway, "?by=user&by=feature&top=2&series=hour").json()
    assert again["groups"] == report["groups"]


def test_live_traffic_shows_up_by_user_and_model(gateway: ServerThread) -> None:
    for _ in range(3):
        reply = httpx.post(
            gateway.url + "/v1/chat/completions",
            json={"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-proctor-user": "zoe", "x-proctor-feature": "live"},
            timeout=30,
        )
        assert reply.status_code == 200
    deadline = time.monotonic() + 10
    zoe: dict[str, Any] = {}
    while zoe.get("requests") != 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # the request log is written in batches, off the hot path
        groups = get_spend(gateway, "?by=user,model&since=15m").json()["groups"]
        zoe = next((g for g in groups if g["key"]["user"] == "zoe"), {})
    assert zoe["key"] == {"user": "zoe", "model": "sim-small"}
    assert zoe["requests"] == 3
    assert zoe["errors"] == 0
    assert zoe["prompt_tokens"] > 0
    assert zoe["completion_tokens"] > 0


def _error(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 400, reply.text
    error: dict[str, Any] = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    return error


@pytest.mark.parametrize(
    ("query", "param", "hint"),
    [
        ("?by=user,colour", "by", "allowed: user, feature, endpoint, model"),
        ("?by=user%3BDROP%20TABLE%20requests", "by", "allowed:"),
        ("?by=user%22%2C%20(SELECT%201)%20AS%20%22x", "by", "allowed:"),
        ("?since=yesterday", "since", "15m, 24h, 7d, 30d"),
        ("?since=1h%27%20OR%201%3D1--", "since", "ISO 8601"),
        ("?since=2999-01-01T00:00:00Z", "since", "future"),
        ("?top=0", "top", "1 to 1000"),
        ("?top=ten", "top", "1 to 1000"),
        ("?series=week", "series", "minute, hour, day"),
        ("?series=minute&since=30d", "series", "coarser"),
        ("?since=1h&since=2h", "since", "more than once"),
        ("?group_by=user", "group_by", "allowed: by, since, top, series"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    gateway: ServerThread, tmp_path: Path, query: str, param: str, hint: str
) -> None:
    error = _error(get_spend(gateway, query))
    assert error["param"] == param
    assert hint in error["message"]
    with sqlite3.connect(tmp_path / "proctor.db") as db:
        assert db.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 7


def test_the_admin_key_is_required_when_set(tmp_path: Path) -> None:
    _seed(tmp_path / "proctor.db")
    config = sim_config(tmp_path, server={"admin_key": "adm-secret"})
    with running_gateway(config) as server:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"x-api-key": "adm"}):
            reply = get_spend(server, headers=headers)
            assert reply.status_code == 401
            assert reply.json()["error"]["type"] == "authentication_error"
        for headers in ({"authorization": "Bearer adm-secret"}, {"x-api-key": "adm-secret"}):
            reply = get_spend(server, "?by=team", headers=headers)
            assert reply.status_code == 200
            assert {g["key"]["team"] for g in reply.json()["groups"]} == {"red", "blue", None}
        # Bad parameters are not even looked at without the key.
        assert get_spend(server, "?by=colour").status_code == 401
