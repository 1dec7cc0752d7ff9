"""POST /v1/feedback/browser: the response's feedback token instead of a key, and CORS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from proctor.feedback import Signer
from tests.feedback.conftest import CHAT, chat, error_of, feedback_rows
from tests.gateway_server import ServerThread, running_gateway, sim_config

ORIGIN = "https://app.example.com"
SECRET = "feedback-secret-0123456789"
HEADER = "x-proctor-feedback-token"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser") / "proctor.db"


@pytest.fixture(scope="module")
def server(db: Path) -> Iterator[ServerThread]:
    feedback = {"secret": SECRET, "allowed_origins": [ORIGIN, "http://localhost:3000"]}
    # Keys exist: the browser variant must still need none.
    config = sim_config(db.parent, feedback=feedback, server={"admin_key": "adm-browser-key"})
    with running_gateway(config) as running:
        admin = {"authorization": "Bearer adm-browser-key"}
        created = httpx.post(running.url + "/admin/keys", json={"name": "app"}, headers=admin)
        assert created.status_code == 201
        running.app_key = created.json()["secret"]  # type: ignore[attr-defined]
        yield running


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    key = server.app_key  # type: ignore[attr-defined]
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.headers["authorization"] = f"Bearer {key}"
        yield client


def _expected_token(request_id: str) -> str:
    """The documented algorithm: HMAC-SHA256 keyed by a key derived from the secret."""
    key = hmac.new(SECRET.encode(), b"proctor feedback token v1", hashlib.sha256).digest()
    mac = hmac.new(key, request_id.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def test_every_proxy_response_carries_the_token(http: httpx.Client) -> None:
    replies = [
        chat(http),
        http.post("/v1/chat/completions", json={**CHAT, "stream": True}),
        http.post("/v1/embeddings", json={"model": "sim-embed", "input": "hi"}),
        http.post(
            "/v1/messages",
            json={"model": "sim-small", "max_tokens": 5, "messages": CHAT["messages"]},
        ),
        http.post("/v1/chat/completions", json={**CHAT, "model": "no-such-model"}),
    ]
    assert [r.status_code for r in replies] == [200, 200, 200, 200, 404]
    for reply in replies:
        assert reply.headers[HEADER] == _expected_token(reply.headers["x-request-id"])
    # A body that does not parse never reaches the pipeline: nothing to rate, no token.
    unparsed = http.post("/v1/chat/completions", json={"model": "sim-small"})
    assert unparsed.status_code == 400
    assert HEADER not in unparsed.headers


def test_a_request_refused_at_authentication_cannot_be_rated(http: httpx.Client) -> None:
    refused = http.post("/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer x"})
    assert refused.status_code == 401
    body = {
        "request_id": refused.headers["x-request-id"],
        "token": refused.headers[HEADER],
        "score": -1,
    }
    reply = _browser(http, body)
    assert reply.status_code == 404
    assert error_of(reply)["code"] == "unknown_request"
    # Still 404 once its row is written (the writer flushes every 20 ms here).
    time.sleep(0.2)
    assert _browser(http, body).status_code == 404


def _browser(
    client: httpx.Client, body: dict[str, object], origin: str | None = ORIGIN
) -> httpx.Response:
    headers = {"origin": origin} if origin else {}
    # No key: what an end user's browser sends.
    return httpx.post(
        str(client.base_url) + "/v1/feedback/browser", json=body, headers=headers, timeout=30
    )


def test_a_good_token_rates_the_request_without_a_key(http: httpx.Client, db: Path) -> None:
    reply = chat(http)
    request_id, token = reply.headers["x-request-id"], reply.headers[HEADER]
    rated = _browser(http, {"request_id": request_id, "token": token, "score": -1, "comment": "no"})
    assert rated.status_code == 200, rated.text
    assert rated.headers["access-control-allow-origin"] == ORIGIN
    assert rated.json()["channel"] == "browser"
    # The app's own rating of the same request is a separate channel; both are kept.
    keyed = http.post("/v1/feedback", json={"request_id": request_id, "score": 1})
    assert keyed.status_code == 200, keyed.text
    rows = [r for r in feedback_rows(db, 2) if r["request_id"] == request_id]
    assert {(r["channel"], r["score"]) for r in rows} == {("api", 1.0), ("browser", -1.0)}
    browser_row = next(r for r in rows if r["channel"] == "browser")
    assert (browser_row["rated_by"], browser_row["comment"]) == (None, "no")


def test_bad_and_missing_tokens(http: httpx.Client) -> None:
    first, second = chat(http), chat(http)
    request_id = first.headers["x-request-id"]
    # Another request's token, a made-up one, a truncated one: 401, naming the token.
    for token in (second.headers[HEADER], "A" * 22, first.headers[HEADER][:-1], "é" * 10):
        reply = _browser(http, {"request_id": request_id, "token": token, "score": 1})
        assert reply.status_code == 401, token
        assert error_of(reply)["param"] == "token"
        assert error_of(reply)["code"] == "invalid_feedback_token"
        assert reply.headers["access-control-allow-origin"] == ORIGIN
    reply = _browser(http, {"request_id": request_id, "score": 1})
    assert reply.status_code == 400
    assert error_of(reply)["param"] == "token"
    reply = _browser(http, {"request_id": request_id, "token": 5, "score": 1})
    assert reply.status_code == 400
    assert error_of(reply)["param"] == "token"
    # The browser body takes no metadata: it is named, not ignored.
    token = first.headers[HEADER]
    body = {"request_id": request_id, "token": token, "score": 1, "metadata": {}}
    reply = _browser(http, body)
    assert reply.status_code == 400
    assert error_of(reply)["param"] == "metadata"


def test_cors_preflight(http: httpx.Client) -> None:
    preflight = {"access-control-request-method": "POST"}
    for origin in (ORIGIN, "http://localhost:3000", "HTTPS://APP.EXAMPLE.COM"):
        reply = http.options("/v1/feedback/browser", headers={**preflight, "origin": origin})
        assert reply.status_code == 204
        assert reply.headers["access-control-allow-origin"] == origin
        assert "POST" in reply.headers["access-control-allow-methods"]
        assert reply.headers["access-control-allow-headers"] == "content-type"
        assert reply.headers["vary"] == "Origin"
    for headers in ({**preflight, "origin": "https://evil.example"}, preflight):
        reply = http.options("/v1/feedback/browser", headers=headers)
        assert reply.status_code == 403
        assert "access-control-allow-origin" not in reply.headers


def test_a_post_from_an_origin_not_allowed_is_refused(http: httpx.Client) -> None:
    reply = chat(http)
    body = {"request_id": reply.headers["x-request-id"], "token": reply.headers[HEADER], "score": 1}
    refused = _browser(http, body, origin="https://evil.example")
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in refused.headers
    # Without an Origin (not a browser: a backend, curl) the token alone is enough.
    assert _browser(http, body, origin=None).status_code == 200


def test_any_origin_and_the_keyed_endpoint_has_no_cors(tmp_path: Path) -> None:
    config = sim_config(tmp_path, feedback={"allowed_origins": ["*"]})
    with running_gateway(config) as running, httpx.Client(base_url=running.url) as client:
        reply = client.options(
            "/v1/feedback/browser",
            headers={"origin": "https://anything.example", "access-control-request-method": "POST"},
        )
        assert reply.status_code == 204
        assert reply.headers["access-control-allow-origin"] == "*"
        assert client.options("/v1/feedback").status_code == 405


def test_tokens_from_the_admin_key_or_the_stored_secret(tmp_path: Path) -> None:
    """Without feedback.secret the token is keyed by the admin key; without either, by a
    secret generated at the first start and kept in the store, so it outlives a restart."""
    config = sim_config(tmp_path, server={"admin_key": "adm-one-key"})
    with running_gateway(config) as running, httpx.Client(base_url=running.url) as client:
        reply = chat(client, {"authorization": "Bearer adm-one-key"})
        assert reply.headers[HEADER] == Signer("adm-one-key").token(reply.headers["x-request-id"])

    with running_gateway(sim_config(tmp_path)) as running, httpx.Client(base_url=running.url) as c:
        reply = chat(c)
    request_id, token = reply.headers["x-request-id"], reply.headers[HEADER]
    assert token != Signer("adm-one-key").token(request_id)
    stored = sqlite3.connect(tmp_path / "proctor.db").execute("SELECT value FROM gateway_secrets")
    assert token == Signer(stored.fetchone()[0]).token(request_id)

    # Restarted (or another replica on the same store): the same secret, the same tokens.
    with running_gateway(sim_config(tmp_path)) as running, httpx.Client(base_url=running.url) as c:
        body = {"request_id": request_id, "token": token, "score": 1}
        assert c.post("/v1/feedback/browser", json=body).status_code == 200
