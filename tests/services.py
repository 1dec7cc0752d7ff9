"""Real services for tests: Redis and PostgreSQL, found through environment variables.

A test that needs one calls `redis_url()` / `postgres_url()` (or uses the fixtures below).
When the variable is unset or the server does not answer, the test is SKIPPED with a message
saying how to run it, so `make test` works on a laptop without services; with
PROCTOR_REQUIRE_SERVICES=1 (CI, `.ci/run`) the same situation FAILS, so a misconfigured CI
can never pass by skipping.

Redis tests share one database (CI uses /0), so each test gets a random key prefix and its
keys are deleted afterwards; nothing is flushed.
"""

from __future__ import annotations

import functools
import os
import socket
import struct
import uuid
from collections.abc import Callable, Iterator
from typing import NoReturn
from urllib.parse import urlsplit

import pytest
import redis

from proctor.limits.redis import redact

REDIS_ENV = "PROCTOR_TEST_REDIS_URL"
POSTGRES_ENV = "PROCTOR_TEST_POSTGRES_URL"
REQUIRE_ENV = "PROCTOR_REQUIRE_SERVICES"
REDIS_EXAMPLE = "redis://127.0.0.1:6379/15"
POSTGRES_EXAMPLE = "postgresql://postgres@127.0.0.1:5432/test"
PROBE_TIMEOUT_S = 2.0


def services_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def _missing(problem: str, service: str, remedy: str) -> NoReturn:
    if services_required():
        pytest.fail(
            f"{problem}: {service} tests are required ({REQUIRE_ENV}=1; {remedy})", pytrace=False
        )
    pytest.skip(f"{problem}: skipping {service} tests ({remedy})")


@functools.cache
def _probe_redis(url: str) -> str | None:
    """None when the server answers PING, else why not. Cached: probed once per session."""
    client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_S)
    try:
        client.ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None


@functools.cache
def _probe_postgres(url: str) -> str | None:
    """None when a PostgreSQL server answers at the URL's host and port. It sends an
    SSLRequest, which every server answers with one byte ('S' or 'N') before any
    authentication, so no driver is needed to tell Postgres from a closed or foreign port."""
    try:
        parts = urlsplit(url)
        address = (parts.hostname or "127.0.0.1", parts.port or 5432)
    except ValueError as exc:
        return f"invalid URL: {exc}"
    try:
        with socket.create_connection(address, timeout=PROBE_TIMEOUT_S) as sock:
            sock.sendall(struct.pack("!II", 8, 80877103))
            answer = sock.recv(1)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    if answer not in (b"S", b"N"):
        return f"not a PostgreSQL server (answered {answer!r} to SSLRequest)"
    return None


def _service_url(env: str, service: str, example: str, probe: Callable[[str], str | None]) -> str:
    url = os.environ.get(env, "")
    if not url:
        _missing(f"{env} not set", service, f"set it, e.g. {example}")
    problem = probe(url)
    if problem is not None:
        where = f"{service} at {redact(url)} ({env})"
        _missing(f"{where} unreachable ({problem.rstrip('.')})", service, f"start {service}")
    return url


def redis_url() -> str:
    """The Redis URL for tests, or skip/fail (see the module docstring)."""
    return _service_url(REDIS_ENV, "Redis", REDIS_EXAMPLE, _probe_redis)


def postgres_url() -> str:
    """The PostgreSQL URL for tests, or skip/fail (see the module docstring)."""
    return _service_url(POSTGRES_ENV, "PostgreSQL", POSTGRES_EXAMPLE, _probe_postgres)


def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key under `prefix` (SCAN, never KEYS or FLUSHDB: the DB may be shared)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_S)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_service() -> Iterator[tuple[str, str]]:
    """(url, prefix): a reachable Redis and a key prefix unique to this test, whose keys
    are deleted after it."""
    url = redis_url()
    prefix = f"proctor-test:{uuid.uuid4().hex}:"
    yield url, prefix
    delete_prefix(url, prefix)


@pytest.fixture
def postgres_service() -> str:
    return postgres_url()
