"""Spans are stored for every eventful request and a sample of the rest; every request's
stage start offsets are in its request-log row, so the waterfall never needs the spans."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from proctor import config as config_mod
from tests.gateway_server import running_gateway


def test_only_eventful_requests_keep_spans_at_ratio_zero(tmp_path: Path) -> None:
    config = config_mod.from_dict(
        {
            "store": {"url": f"sqlite:///{tmp_path / 'log.db'}", "flush_interval_ms": 10},
            "providers": {"ok": {"type": "sim"}, "bad": {"type": "sim", "error_rate": 1}},
            "models": {
                "plain": {"deployments": [{"provider": "ok", "model": "a"}]},
                "rescued": {
                    "deployments": [{"provider": "bad", "model": "b"}],
                    "fallbacks": ["plain"],
                    "retry": {"attempts": 0},
                },
            },
            "telemetry": {"store_sample_ratio": 0.0},
        }
    )
    body = {"messages": [{"role": "user", "content": "hi"}]}
    with running_gateway(config) as server, httpx.Client(base_url=server.url) as http:
        plain = http.post("/v1/chat/completions", json={**body, "model": "plain"})
        rescued = http.post("/v1/chat/completions", json={**body, "model": "rescued"})
        assert plain.status_code == rescued.status_code == 200
        ids = {
            name: r.headers["x-request-id"] for name, r in [("plain", plain), ("rescued", rescued)]
        }
        deadline = time.monotonic() + 10
        while not http.get("/admin/traces", params={"request_id": ids["rescued"]}).json()["data"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert http.get("/admin/traces", params={"request_id": ids["plain"]}).json()["data"] == []
        detail = http.get(f"/admin/requests/{ids['plain']}").json()
    starts = detail["stage_start_ms"]
    if isinstance(starts, str):
        starts = json.loads(starts)
    assert list(starts) == [
        "identify",
        "settle",
        "admit",
        "guard_in",
        "guard_out",
        "route",
        "call",
    ]
    assert starts["identify"] <= starts["settle"] <= starts["admit"] <= starts["call"]
