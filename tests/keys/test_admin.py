"""The admin API for keys, on a real server: create (secret once), list, revoke, auth, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from proctor.keys import Keyring
from proctor.store.sqlite import SQLiteStore
from tests.gateway_server import ServerThread, running_gateway, sim_config

ADMIN = {"authorization": "Bearer adm-s3cret"}
CHAT = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    # A periodic reload an hour away: anything seen at once came from the admin refresh hook.
    config = sim_config(tmp_path, server={"admin_key": "adm-s3cret"}, keys={"refresh_s": 3600})
    with running_gateway(config) as running:
        yield running


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _error(reply: httpx.Response) -> dict[str, Any]:
    error = reply.json()["error"]
    assert isinstance(error, dict)
    return error


def test_create_list_revoke(http: httpx.Client, tmp_path: Path) -> None:
    body = {
        "name": "support bot",
        "tenant": "acme",
        "team": "support",
        "budget_usd": 10,
        "budget_period": "day",
        "rpm": 60,
        "models": ["sim-small"],
        "metadata": {"owner": "bob"},
    }
    reply = http.post("/admin/keys", json=body, headers=ADMIN)
    assert reply.status_code == 201, reply.text
    created = reply.json()
    secret = created["secret"]
    assert secret.startswith("pk-")
    assert created["object"] == "key"
    assert created["id"].startswith("key_")
    assert created["prefix"] == secret[:8]
    assert created["budget_period"] == "day"
    assert created["models"] == ["sim-small"]
    assert "hash" not in created

    listed = http.get("/admin/keys", headers=ADMIN).json()
    assert listed["object"] == "list"
    assert [k["id"] for k in listed["data"]] == [created["id"]]
    assert "secret" not in listed["data"][0]
    assert "hash" not in listed["data"][0]

    reply = http.delete(f"/admin/keys/{created['id']}", headers=ADMIN)
    assert reply.status_code == 200
    assert reply.json()["revoked_at"] is not None
    assert http.get("/admin/keys", headers=ADMIN).json()["data"] == []
    everything = http.get("/admin/keys", params={"all": "true"}, headers=ADMIN).json()["data"]
    assert [k["id"] for k in everything] == [created["id"]]

    # Written to the gateway's own store, as the hash only.
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("proctor.db*"))
    assert secret.encode() not in raw
    assert secret[8:].encode() not in raw


def test_the_admin_key_is_required(http: httpx.Client) -> None:
    for headers in ({}, {"authorization": "Bearer wrong"}, {"x-api-key": "adm-s3cre"}):
        for reply in (
            http.post("/admin/keys", json={"name": "k"}, headers=headers),
            http.get("/admin/keys", headers=headers),
            http.delete("/admin/keys/key_000000000000", headers=headers),
        ):
            assert reply.status_code == 401
            assert _error(reply)["type"] == "authentication_error"
    assert http.get("/admin/keys", headers={"x-api-key": "adm-s3cret"}).status_code == 200
    assert http.get("/admin/keys", headers=ADMIN).json()["data"] == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "k", "rpm": 0}, "rpm"),
        ({"name": "k", "budget_usd": -1}, "budget_usd"),
        ({"name": "k", "budget_period": "week"}, "budget_period"),
        ({"name": "k", "tpm": "many"}, "tpm"),
        ({"name": "k", "models": []}, "models"),
        ({"name": "k", "budget": 5}, "budget"),
        ({"tenant": "acme"}, "name"),
    ],
)
def test_bad_fields_are_400_naming_the_field(
    http: httpx.Client, body: dict[str, object], param: str
) -> None:
    reply = http.post("/admin/keys", json=body, headers=ADMIN)
    assert reply.status_code == 400
    error = _error(reply)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert param in error["message"]
    assert http.get("/admin/keys", headers=ADMIN).json()["data"] == []


def test_malformed_bodies_are_400(http: httpx.Client) -> None:
    for content in (b"", b"{", b"[1]", b"\xff\xfe"):
        reply = http.post("/admin/keys", content=content, headers=ADMIN)
        assert reply.status_code == 400
        assert _error(reply)["type"] == "invalid_request_error"
    reply = http.post("/admin/keys", content=b"x" * 100_000, headers=ADMIN)
    assert reply.status_code == 413


def test_revoking_an_unknown_key_is_404(http: httpx.Client) -> None:
    reply = http.delete("/admin/keys/key_000000000000", headers=ADMIN)
    assert reply.status_code == 404
    assert _error(reply)["param"] == "key_id"


def test_keys_written_by_the_api_are_seen_by_another_connection(
    http: httpx.Client, tmp_path: Path
) -> None:
    secret = http.post("/admin/keys", json={"name": "k"}, headers=ADMIN).json()["secret"]

    async def ring() -> Keyring:
        store = SQLiteStore(f"sqlite:///{tmp_path / 'proctor.db'}")
        await store.open()
        try:
            return Keyring(await store.all_keys())
        finally:
            await store.close()

    assert asyncio.run(ring()).lookup(secret) is not None


def test_without_an_admin_key_loopback_may_manage_keys(tmp_path: Path) -> None:
    with running_gateway(sim_config(tmp_path)) as running:
        reply = httpx.post(running.url + "/admin/keys", json={"name": "local"}, timeout=30)
        assert reply.status_code == 201
        listed = httpx.get(running.url + "/admin/keys", timeout=30).json()["data"]
        assert [k["name"] for k in listed] == ["local"]


def test_the_gateway_honours_keys_at_once(http: httpx.Client) -> None:
    created = http.post("/admin/keys", json={"name": "k", "tenant": "acme"}, headers=ADMIN).json()
    bearer = {"authorization": f"Bearer {created['secret']}"}
    # The admin API refreshed this gateway's keyring itself: no wait for the periodic reload.
    assert http.post("/v1/chat/completions", json=CHAT, headers=bearer).status_code == 200
    assert http.post("/v1/chat/completions", json=CHAT, headers={"x-api-key": created["secret"]})
    unknown = http.post(
        "/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer pk-" + "x" * 40}
    )
    assert unknown.status_code == 401
    assert http.post("/v1/chat/completions", json=CHAT).status_code == 401
    http.delete(f"/admin/keys/{created['id']}", headers=ADMIN)
    revoked = http.post("/v1/chat/completions", json=CHAT, headers=bearer)
    assert revoked.status_code == 401
    assert "revoked" in _error(revoked)["message"]
