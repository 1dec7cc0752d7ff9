"""Run a real proctor server (uvicorn, real sockets) in a background thread for tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from proctor import config as config_mod
from proctor.config import Config
from proctor.server.app import create_app


class ServerThread:
    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)

    @property
    def port(self) -> int:
        socket = self.server.servers[0].sockets[0]
        return int(socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def sim_config(tmp_path: Path, **overrides: Any) -> Config:
    """A config answering with the simulator and logging to a file under tmp_path."""
    raw: dict[str, Any] = {
        "store": {"url": f"sqlite:///{tmp_path / 'proctor.db'}", "flush_interval_ms": 20},
        "providers": {"sim": {"type": "sim"}},
        "models": {
            "sim-small": {"deployments": [{"provider": "sim", "model": "small"}]},
            "sim-embed": {"deployments": [{"provider": "sim", "model": "embed"}]},
        },
    }
    raw.update(overrides)
    return config_mod.from_dict(raw)


@contextmanager
def running_gateway(
    config: Config, *, config_path: Path | None = None, watch_interval_s: float = 0.1
) -> Iterator[ServerThread]:
    server = ServerThread(
        create_app(config, config_path=config_path, watch_interval_s=watch_interval_s)
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
