"""The gateway under test: what `proctor serve` runs (uvicorn, uvloop, httptools, no access
log), with a config whose one provider is the bench upstream and whose request log is on.

`python -m proctor.bench.gateway --upstream http://127.0.0.1:PORT/v1 --db FILE` prints
`listening <port>` once it answers, and stops when its standard input closes. `--metering
memory|redis` adds prices, budgets and rate limits (see `proctor.bench.metering`).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from typing import Any

import uvicorn

from proctor import config as config_mod
from proctor.bench.metering import MODES, Metering, config_sections
from proctor.bench.upstream import bind, exit_when_stdin_closes, pin
from proctor.config import Config

MODEL = "bench-model"
UPSTREAM_MODEL = "bench-upstream"


def bench_config(
    upstream: str | None,
    db_path: str,
    provider: str = "openai",
    metering: Metering = "off",
    redis_url: str | None = None,
    redis_prefix: str | None = None,
) -> Config:
    """One public model on one deployment; `provider="sim"` answers in-process instead.
    With metering, also prices, budgets and rate limits, in memory or in Redis."""
    if provider == "openai":
        assert upstream is not None
        provider_config: dict[str, Any] = {"type": "openai", "base_url": upstream, "api_key": "x"}
    else:
        provider_config = {"type": "sim", "reply_tokens": 8}
    return config_mod.from_dict(
        {
            "store": {"url": f"sqlite:///{db_path}"},
            "providers": {"up": provider_config},
            "models": {MODEL: {"deployments": [{"provider": "up", "model": UPSTREAM_MODEL}]}},
            **config_sections(metering, UPSTREAM_MODEL, redis_url, redis_prefix),
            **_observability_sections(),
        },
        env={},
    )


_OBSERVABILITY_ENV = "PROCTOR_BENCH_OBSERVABILITY"


def set_observability(on: bool) -> None:
    """Whether the gateways this process starts build trace spans and cluster query topics
    (the child processes inherit it through the environment)."""
    os.environ[_OBSERVABILITY_ENV] = "on" if on else "off"


def _observability_sections() -> dict[str, Any]:
    value = os.environ.get(_OBSERVABILITY_ENV, "on")
    if value == "on":
        return {}
    if value == "off":
        return {"telemetry": {"traces": False}, "topics": {"enabled": False}}
    sections: dict[str, Any] = json.loads(value)  # finer A/B runs: raw config sections
    return sections


def openai_adapter_available() -> bool:
    """The OpenAI adapter registers itself in `proctor.providers`; until then, use `sim`."""
    from proctor import providers
    from proctor.config import OpenAIProviderConfig

    try:
        providers.create("probe", OpenAIProviderConfig(base_url="http://127.0.0.1:9/v1"))
    except LookupError:
        return False
    return True


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, sock: socket.socket) -> None:
        super().__init__(config)
        self.sock = sock

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        exit_when_stdin_closes(self._stop)
        print(f"listening {self.sock.getsockname()[1]}", flush=True)

    def _stop(self) -> None:
        self.should_exit = True


def main(argv: list[str] | None = None) -> None:
    from proctor.server.app import create_app

    parser = argparse.ArgumentParser(description="proctor gateway under benchmark")
    parser.add_argument("--upstream", default=None, help="base URL of the upstream, .../v1")
    parser.add_argument("--provider", choices=("openai", "sim"), default="openai")
    parser.add_argument("--db", required=True, help="SQLite file for the request log")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--metering", choices=MODES, default="off")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--redis-prefix", default=None)
    parser.add_argument("--cpus", default=None)
    args = parser.parse_args(argv)
    pin(args.cpus)
    sock = bind("127.0.0.1", args.port)
    config = bench_config(
        args.upstream, args.db, args.provider, args.metering, args.redis_url, args.redis_prefix
    )
    app = create_app(config)
    server = _Server(
        uvicorn.Config(
            app,
            loop="uvloop" if os.name != "nt" else "asyncio",
            http="httptools",
            access_log=False,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=5,
        ),
        sock,
    )
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
