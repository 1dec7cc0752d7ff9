"""Property tests for the review queue and guard-breaker admin routes on a real server.

Whatever the path segment, query or body, every answer is a 2xx or a 4xx (never a 5xx)
with an OpenAI-shaped error body, and the server keeps answering.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.gateway_server import running_gateway, sim_config
from tests.server.test_fuzz import fuzz
from tests.thread_safe_logs import one_line_server_tracebacks

one_line_server_tracebacks()

ADMIN = {"authorization": "Bearer adm-fuzz", "content-type": "application/json"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {},
        optional={"reason": json_values, "by": json_values, "feature": json_values},
    ).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
)
segments = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    tmp: Path = tmp_path_factory.mktemp("fuzz-admin")
    config = sim_config(tmp, server={"admin_key": "adm-fuzz"})
    with (
        running_gateway(config) as server,
        httpx.Client(base_url=server.url, timeout=30, headers=ADMIN) as http,
    ):
        yield http


def _check(reply: httpx.Response) -> None:
    assert reply.status_code < 500, reply.text[:500]
    if reply.status_code >= 400:
        error = reply.json()["error"]
        assert isinstance(error["message"], str)
        assert error["message"]


@fuzz(150)
@given(segment=segments, action=st.sampled_from(["approve", "reject"]), body=bodies)
def test_review_decisions_never_fail_the_server(
    client: httpx.Client, segment: str, action: str, body: bytes
) -> None:
    _check(client.post(f"/admin/review/{quote(segment, safe='')}/{action}", content=body))


@fuzz(100)
@given(
    status=st.text(max_size=12),
    limit=st.text(max_size=8),
    segment=segments,
)
def test_review_listing_and_lookup_never_fail_the_server(
    client: httpx.Client, status: str, limit: str, segment: str
) -> None:
    _check(client.get("/admin/review", params={"status": status, "limit": limit}))
    _check(client.get(f"/admin/review/{quote(segment, safe='')}"))


@fuzz(100)
@given(body=bodies)
def test_breaker_reset_never_fails_the_server(client: httpx.Client, body: bytes) -> None:
    _check(client.post("/admin/guards/breaker/reset", content=body))
    _check(client.get("/admin/guards/breaker"))


def test_the_fuzzed_client_is_authorised(client: httpx.Client) -> None:
    # Otherwise every example above would only exercise the 401 path.
    assert client.get("/admin/review").status_code == 200
    assert client.post("/admin/review/rv_nope/approve", content=b"{}").status_code == 404
