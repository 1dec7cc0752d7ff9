"""POST /v1/feedback on a real server: open host, virtual keys, bad input, unknown ids, and
feedback for a request whose row is still in the writer's buffer."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.feedback.conftest import chat, error_of, feedback_rows
from tests.gateway_server import ServerThread, running_gateway, sim_config

ADMIN_KEY = "adm-feedback-s3cret"


@pytest.fixture(scope="module")
def open_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("open") / "proctor.db"


@pytest.fixture(scope="module")
def open_server(open_db: Path) -> Iterator[ServerThread]:
    with running_gateway(sim_config(open_db.parent, feedback={"max_changes": 3})) as server:
        yield server


@pytest.fixture
def http(open_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=open_server.url, timeout=30) as client:
        yield client


def test_feedback_on_an_open_host_is_written_through_the_writer(
    http: httpx.Client, open_db: Path
) -> None:
    request_id = chat(http).headers["x-request-id"]
    body = {"request_id": request_id, "score": 0.75, "comment": "ok", "metadata": {"ui": "v2"}}
    reply = http.post("/v1/feedback", json=body)
    assert reply.status_code == 200, reply.text
    shown = reply.json()
    assert shown["object"] == "feedback"
    assert shown["id"].startswith("fb_")
    assert (shown["request_id"], shown["channel"], shown["score"]) == (request_id, "api", 0.75)
    assert shown["comment"] == "ok"
    rows = [r for r in feedback_rows(open_db, 1) if r["request_id"] == request_id]
    assert len(rows) == 1
    assert (rows[0]["score"], rows[0]["comment"], rows[0]["metadata"]) == (
        0.75,
        "ok",
        '{"ui":"v2"}',
    )
    assert rows[0]["rated_by"] is None


def test_a_second_rating_replaces_the_first_and_changes_are_capped(
    http: httpx.Client, open_db: Path
) -> None:
    request_id = chat(http).headers["x-request-id"]
    for score in (1, -1, 0.5):
        reply = http.post("/v1/feedback", json={"request_id": request_id, "score": score})
        assert reply.status_code == 200, reply.text
    reply = http.post("/v1/feedback", json={"request_id": request_id, "score": 1})
    assert reply.status_code == 429
    assert error_of(reply)["code"] == "feedback_limit"
    deadline = time.monotonic() + 10
    while True:
        rows = [r for r in feedback_rows(open_db, 1) if r["request_id"] == request_id]
        if (rows and rows[0]["score"] == 0.5) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert [(r["channel"], r["score"]) for r in rows] == [("api", 0.5)]


def test_an_unknown_request_id_is_404(http: httpx.Client) -> None:
    started = time.monotonic()
    reply = http.post("/v1/feedback", json={"request_id": "req_" + "0" * 24, "score": 1})
    assert reply.status_code == 404
    error = error_of(reply)
    assert (error["param"], error["code"]) == ("request_id", "unknown_request")
    assert time.monotonic() - started < 2  # an idle writer holds nothing to wait for


BAD: list[tuple[Any, str | None]] = [
    ({"score": 1}, "request_id"),
    ({"request_id": 7, "score": 1}, "request_id"),
    ({"request_id": "req x", "score": 1}, "request_id"),
    ({"request_id": "r" * 200, "score": 1}, "request_id"),
    ({"request_id": "{rid}"}, "score"),
    ({"request_id": "{rid}", "score": 2}, "score"),
    ({"request_id": "{rid}", "score": -1.01}, "score"),
    ({"request_id": "{rid}", "score": "1"}, "score"),
    ({"request_id": "{rid}", "score": True}, "score"),
    ({"request_id": "{rid}", "score": None}, "score"),
    ({"request_id": "{rid}", "score": 1, "comment": 5}, "comment"),
    ({"request_id": "{rid}", "score": 1, "comment": "x" * 4001}, "comment"),
    ({"request_id": "{rid}", "score": 1, "metadata": [1]}, "metadata"),
    ({"request_id": "{rid}", "score": 1, "metadata": {"x": "y" * 5000}}, "metadata"),
    ({"request_id": "{rid}", "rating": 1}, "rating"),
    ([1, 2], None),
    ("just a string", None),
]


@pytest.mark.parametrize(("body", "param"), BAD)
def test_bad_input_is_400_naming_the_field(
    http: httpx.Client, body: Any, param: str | None
) -> None:
    if isinstance(body, dict) and body.get("request_id") == "{rid}":
        body = {**body, "request_id": chat(http).headers["x-request-id"]}
    reply = http.post("/v1/feedback", json=body)
    assert reply.status_code == 400, reply.text
    error = error_of(reply)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    if param is not None:
        assert f"`{param}`" in error["message"]


def test_not_json_and_oversize_bodies(http: httpx.Client) -> None:
    reply = http.post("/v1/feedback", content=b"{nope")
    assert reply.status_code == 400
    assert error_of(reply)["code"] == "invalid_json"
    reply = http.post("/v1/feedback", content=b"{" + b" " * 70_000 + b"}")
    assert reply.status_code == 413


def test_only_open_hosts_may_rate_without_keys(tmp_path: Path) -> None:
    config = sim_config(tmp_path, server={"open_hosts": ["10.9.9.9"], "admin_key": ADMIN_KEY})
    with running_gateway(config) as server, httpx.Client(base_url=server.url) as client:
        # The proxy refuses this caller too; rate a request id the admin can see instead.
        reply = client.post("/v1/feedback", json={"request_id": "req_00", "score": 1})
        assert reply.status_code == 401
        admin = {"authorization": f"Bearer {ADMIN_KEY}"}
        reply = client.post(
            "/v1/feedback", json={"request_id": "req_00", "score": 1}, headers=admin
        )
        assert reply.status_code == 404  # authenticated; the id is unknown


def _key(client: httpx.Client, name: str) -> tuple[str, str]:
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    created = client.post("/admin/keys", json={"name": name}, headers=admin)
    assert created.status_code == 201, created.text
    return created.json()["id"], created.json()["secret"]


def test_with_keys_only_the_requesting_key_or_the_admin_may_rate(tmp_path: Path) -> None:
    config = sim_config(tmp_path, server={"admin_key": ADMIN_KEY}, keys={"refresh_s": 3600})
    with running_gateway(config) as server, httpx.Client(base_url=server.url) as client:
        a_id, a_secret = _key(client, "a")
        b_id, b_secret = _key(client, "b")
        request_id = chat(client, {"authorization": f"Bearer {a_secret}"}).headers["x-request-id"]
        body = {"request_id": request_id, "score": -1}

        reply = client.post("/v1/feedback", json=body)
        assert reply.status_code == 401
        assert error_of(reply)["code"] == "missing_api_key"
        reply = client.post("/v1/feedback", json=body, headers={"x-api-key": "pk-not-a-key"})
        assert reply.status_code == 401
        assert error_of(reply)["code"] == "invalid_api_key"
        reply = client.post("/v1/feedback", json=body, headers={"x-api-key": b_secret})
        assert reply.status_code == 403
        assert error_of(reply)["code"] == "not_your_request"

        reply = client.post("/v1/feedback", json=body, headers={"x-api-key": a_secret})
        assert reply.status_code == 200, reply.text
        rows = feedback_rows(tmp_path / "proctor.db", 1)
        assert [(r["rated_by"], r["score"]) for r in rows] == [(a_id, -1.0)]

        # The admin key may rate anyone's request; it is the same channel, so it replaces.
        admin = {"authorization": f"Bearer {ADMIN_KEY}"}
        reply = client.post("/v1/feedback", json={**body, "score": 1}, headers=admin)
        assert reply.status_code == 200, reply.text
        deadline = time.monotonic() + 10
        while feedback_rows(tmp_path / "proctor.db", 1)[0]["rated_by"] != "admin":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert b_id != a_id


def test_feedback_for_a_request_still_in_the_writers_buffer(tmp_path: Path) -> None:
    # A slow flush: the request's row is certainly not written when the feedback arrives.
    store = {"url": f"sqlite:///{tmp_path / 'proctor.db'}", "flush_interval_ms": 1500}
    with (
        running_gateway(sim_config(tmp_path, store=store)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        request_id = chat(client).headers["x-request-id"]
        with sqlite3.connect(tmp_path / "proctor.db") as db:
            written = db.execute("SELECT 1 FROM requests WHERE id = ?", (request_id,))
            assert written.fetchone() is None
        reply = client.post("/v1/feedback", json={"request_id": request_id, "score": 1})
        assert reply.status_code == 200, reply.text
        # Rated again, now answered from the gateway's memory of recent requests at once.
        started = time.monotonic()
        reply = client.post("/v1/feedback", json={"request_id": request_id, "score": -1})
        assert reply.status_code == 200, reply.text
        assert time.monotonic() - started < 4  # the wait for an unwritten row is 4.5 s
    # Read after the gateway stopped: its writer has drained, so both ratings are written.
    rows = feedback_rows(tmp_path / "proctor.db", 1)
    assert [(r["request_id"], r["score"]) for r in rows] == [(request_id, -1.0)]
