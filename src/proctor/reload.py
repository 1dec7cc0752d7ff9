"""Hot reload: watch the config file and apply valid edits; keep the old config on a bad one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from pathlib import Path

from proctor import config as config_mod
from proctor.app import Gateway
from proctor.config import Config, ConfigError

log = logging.getLogger("proctor.config")


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class ConfigWatcher:
    """Polls the file's mtime and size (cheap, portable, no extra dependency)."""

    def __init__(self, gateway: Gateway, path: str | Path, interval_s: float = 1.0) -> None:
        self.gateway = gateway
        self.path = Path(path)
        self.interval_s = interval_s
        self._stamp = _stamp(self.path)
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="proctor-config-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        # A change is applied once the file has stopped changing for one interval, so an
        # editor that truncates and rewrites in place is never read half-written.
        pending: tuple[int, int] | None = None
        while True:
            await asyncio.sleep(self.interval_s)
            stamp = _stamp(self.path)
            if stamp is None or stamp == self._stamp:
                pending = None
            elif stamp != pending:
                pending = stamp
            else:
                self._stamp, pending = stamp, None
                await self.reload_file()

    async def reload_file(self) -> Config | None:
        try:
            config = await asyncio.to_thread(config_mod.load, self.path)
            async with self._lock:
                await self.gateway.reload(config)
        except ConfigError as exc:
            self.last_error = str(exc)
            log.error("config edit rejected, keeping the running config: %s", exc)
            return None
        except Exception as exc:  # the watcher must outlive any one bad edit
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("config edit failed to apply, keeping the running config")
            return None
        self.last_error = None
        return config

    async def apply_text(self, text: str) -> Config:
        """Validate and apply new config text (PUT /admin/config), then persist it."""
        config = config_mod.parse(text)
        async with self._lock:
            await self.gateway.reload(config)
            await asyncio.to_thread(_write_atomically, self.path, text)
            self._stamp = _stamp(self.path)
        return config


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
