"""The skip/fail rule of tests/services.py, which CI relies on to never pass by skipping."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from tests import services


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("env", "service_url"),
    [
        (services.REDIS_ENV, services.redis_url),
        (services.POSTGRES_ENV, services.postgres_url),
    ],
)
def test_unset_skips_or_fails_when_required(
    monkeypatch: pytest.MonkeyPatch, env: str, service_url: Callable[[], str]
) -> None:
    monkeypatch.delenv(env, raising=False)
    monkeypatch.delenv(services.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"^{env} not set: skipping .* tests"):
        service_url()
    monkeypatch.setenv(services.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"^{env} not set: .* tests are required"):
        service_url()


def test_unreachable_skips_or_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _closed_port()
    monkeypatch.setenv(services.REDIS_ENV, f"redis://:secret@127.0.0.1:{port}/15")
    monkeypatch.setenv(services.POSTGRES_ENV, f"postgresql://u:secret@127.0.0.1:{port}/t")
    monkeypatch.setenv(services.REQUIRE_ENV, "0")
    for url in (services.redis_url, services.postgres_url):
        with pytest.raises(pytest.skip.Exception, match="unreachable") as skipped:
            url()
        assert "secret" not in str(skipped.value)
    monkeypatch.setenv(services.REQUIRE_ENV, "1")
    for url in (services.redis_url, services.postgres_url):
        with pytest.raises(pytest.fail.Exception, match=r"unreachable .* are required"):
            url()
