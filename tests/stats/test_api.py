"""The stats endpoints on a real server: auth, the body shapes, and a 400 naming the parameter."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.gateway_server import running_gateway, sim_config
from tests.stats.seed import seeded_store

pytestmark = pytest.mark.e2e
KEY = {"authorization": "Bearer s3cret"}


def _seed(db: Path) -> None:
    async def seed() -> None:
        await (await seeded_store(db)).close()

    asyncio.run(seed())


def test_endpoints_need_the_admin_key_and_check_parameters(tmp_path: Path) -> None:
    _seed(tmp_path / "proctor.db")
    with running_gateway(sim_config(tmp_path, server={"admin_key": "s3cret"})) as server:

        def get(path: str, **kw: object) -> httpx.Response:
            return httpx.get(server.url + path, timeout=30, **kw)  # type: ignore[arg-type]

        for path in ("/admin/stats", "/admin/requests", "/admin/requests/a1", "/admin/events"):
            assert get(path).status_code == 401, path
        stats = get("/admin/stats?since=2023-11-14T00:00:00Z&bucket=day&by=model", headers=KEY)
        assert stats.status_code == 200, stats.text
        assert stats.json()["totals"]["requests"] == 5
        assert [g["key"] for g in stats.json()["breakdown"]] == ["m1", "m2"]
        page = get("/admin/requests?limit=2", headers=KEY).json()
        assert [r["id"] for r in page["data"]] == ["a4", "a3"]
        assert page["next_before"] is not None
        detail = get("/admin/requests/a1", headers=KEY).json()
        assert len(detail["spans"]) == 2
        assert len(detail["feedback"]) == 2
        assert get("/admin/requests/nope", headers=KEY).status_code == 404
        assert len(get("/admin/events?kind=alert", headers=KEY).json()["data"]) == 2
        for path, param in [
            ("/admin/stats?bucket=week", "bucket"),
            ("/admin/stats?group=user", "group"),
            ("/admin/requests?limit=5000", "limit"),
            ("/admin/events?limit=0", "limit"),
        ]:
            reply = get(path, headers=KEY)
            assert reply.status_code == 400, path
            assert reply.json()["error"]["param"] == param
            assert reply.json()["error"]["type"] == "invalid_request_error"
