"""GET /admin/feedback: ratings joined to their requests, with exact aggregates."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.feedback.conftest import chat, error_of
from tests.gateway_server import ServerThread, running_gateway, sim_config

ADMIN = {"authorization": "Bearer adm-report-key"}
HEADER = "x-proctor-feedback-token"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    models = {
        "sim-small": {"deployments": [{"provider": "sim", "model": "small"}]},
        "sim-large": {"deployments": [{"provider": "sim", "model": "large"}]},
    }
    config = sim_config(tmp_path, models=models, server={"admin_key": "adm-report-key"})
    with running_gateway(config) as running:
        yield running


def _report(client: httpx.Client, count: int, **params: str) -> dict[str, Any]:
    """The report once `count` ratings and all their requests are written."""
    deadline = time.monotonic() + 10
    while True:
        reply = client.get("/admin/feedback", params=params, headers=ADMIN)
        assert reply.status_code == 200, reply.text
        report: dict[str, Any] = reply.json()
        joined = all(item["request"] is not None for item in report["data"])
        if report["totals"]["count"] >= count and joined:
            return report
        assert time.monotonic() < deadline, report
        time.sleep(0.02)


def _rate(client: httpx.Client, model: str, score: float, feature: str | None = None) -> str:
    metadata = {"feature": feature} if feature else {}
    reply = chat(client, model=model, user="u-1", metadata=metadata)
    request_id = reply.headers["x-request-id"]
    rated = client.post("/v1/feedback", json={"request_id": request_id, "score": score})
    assert rated.status_code == 200, rated.text
    return request_id


def test_joined_listing_and_exact_aggregates(server: ServerThread) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        _rate(client, "sim-small", 1, "search")
        replaced = _rate(client, "sim-small", 1, "search")
        again = client.post("/v1/feedback", json={"request_id": replaced, "score": -1})
        assert again.status_code == 200  # replaces the 1: only the -1 counts
        _rate(client, "sim-large", 0.5, "chat")
        _rate(client, "sim-large", 0.25, None)
        reply = chat(client, model="sim-large", metadata={"feature": "search"})
        browser = {
            "request_id": reply.headers["x-request-id"],
            "token": reply.headers[HEADER],
            "score": -1,
        }
        assert client.post("/v1/feedback/browser", json=browser).status_code == 200
        after = time.time() + 0.001

        report = _report(client, 5)
        # scores: small 1, -1 | large 0.5, 0.25, -1 ; search 1, -1, -1 | chat 0.5 | none 0.25
        assert report["totals"] == {
            "count": 5,
            "mean_score": -0.05,
            "negative": 2,
            "negative_share": 0.4,
        }
        assert report["by_model"] == [
            {
                "model": "sim-large",
                "count": 3,
                "mean_score": round(-0.25 / 3, 6),
                "negative": 1,
                "negative_share": round(1 / 3, 6),
            },
            {
                "model": "sim-small",
                "count": 2,
                "mean_score": 0.0,
                "negative": 1,
                "negative_share": 0.5,
            },
        ]
        assert report["by_feature"] == [
            {
                "feature": "search",
                "count": 3,
                "mean_score": round(-1 / 3, 6),
                "negative": 2,
                "negative_share": round(2 / 3, 6),
            },
            {"feature": "chat", "count": 1, "mean_score": 0.5, "negative": 0, "negative_share": 0},
            {"feature": None, "count": 1, "mean_score": 0.25, "negative": 0, "negative_share": 0},
        ]

        data = report["data"]
        assert len(data) == 5
        assert [item["created_at"] for item in data] == sorted(
            (item["created_at"] for item in data), reverse=True
        )
        newest = data[0]
        assert (newest["channel"], newest["score"], newest["rated_by"]) == ("browser", -1, None)
        request = newest["request"]
        assert (request["model"], request["deployment"], request["provider"]) == (
            "sim-large",
            "sim/large",
            "sim",
        )
        assert (request["feature"], request["user"], request["status"]) == ("search", None, 200)
        assert request["cost_usd"] > 0
        assert request["latency_ms"] >= 0
        item = next(i for i in data if i["request_id"] == replaced)
        assert (item["score"], item["request"]["user"]) == (-1, "u-1")

        # limit cuts the listing, not the aggregates; since moves the window.
        limited = _report(client, 5, limit="2")
        assert (len(limited["data"]), limited["totals"]["count"]) == (2, 5)
        since = datetime.fromtimestamp(after, UTC).isoformat()
        empty = client.get("/admin/feedback", params={"since": since}, headers=ADMIN).json()
        assert empty["totals"] == {
            "count": 0,
            "mean_score": None,
            "negative": 0,
            "negative_share": None,
        }
        assert (empty["by_model"], empty["by_feature"], empty["data"]) == ([], [], [])


def test_the_report_needs_the_admin_key_and_good_parameters(server: ServerThread) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/admin/feedback").status_code == 401
        for params, param in (
            ({"since": "yesterday"}, "since"),
            ({"limit": "0"}, "limit"),
            ({"limit": "1001"}, "limit"),
            ({"limit": "x"}, "limit"),
            ({"by": "model"}, "by"),
        ):
            reply = client.get("/admin/feedback", params=params, headers=ADMIN)
            assert reply.status_code == 400, params
            assert error_of(reply)["param"] == param
        reply = client.get("/admin/feedback?since=1h&since=2h", headers=ADMIN)
        assert reply.status_code == 400
        assert error_of(reply)["param"] == "since"
