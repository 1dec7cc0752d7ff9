"""200 simultaneous requests against a budget that allows 50: the recorded spend never
exceeds the budget by more than one request's worst-case cost, in one process and across
three gateway processes sharing Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from proctor import config as config_mod
from proctor.cost.pricing import PriceTable, worst_case_usd
from proctor.cost.tokenizer import estimate_prompt_tokens
from proctor.limits.counter import SCALE, to_units
from proctor.wire.types import ChatRequest, Message
from tests.gateway_server import running_gateway
from tests.services import redis_service  # noqa: F401  (fixture)

MAX_TOKENS = 50
BODY = {
    "model": "chat",
    "max_tokens": MAX_TOKENS,
    "messages": [{"role": "user", "content": "spend some money"}],
}


def _worst() -> float:
    request = ChatRequest(model="chat", messages=[Message(role="user", content="spend some money")])
    price = PriceTable.load().price_for("sim/small")
    assert price is not None
    return worst_case_usd(price, estimate_prompt_tokens(request, "small"), MAX_TOKENS)


def _limit() -> float:
    # Counters keep whole micro-dollars, so a reservation is the worst case rounded to one.
    return 50 * to_units(_worst()) / SCALE


def _raw_config(tmp_path: Path, name: str, redis: dict[str, Any] | None) -> dict[str, Any]:
    limit = _limit()
    raw: dict[str, Any] = {
        "store": {"url": f"sqlite:///{tmp_path / name}", "flush_interval_ms": 20},
        "providers": {"sim": {"type": "sim", "ttft_ms": 300}},
        "models": {"chat": {"deployments": [{"provider": "sim", "model": "small"}]}},
        "budgets": [{"scope": "global", "limit_usd": limit, "period": "day", "name": "cap"}],
    }
    if redis is not None:
        raw["redis"] = redis
    return raw


async def _fire(urls: list[str], total: int) -> list[int]:
    async with httpx.AsyncClient(timeout=60) as client:
        calls = [
            client.post(urls[i % len(urls)] + "/v1/chat/completions", json=BODY)
            for i in range(total)
        ]
        replies = await asyncio.gather(*calls)
    for reply in replies:
        if reply.status_code == 429:
            assert reply.json()["error"]["code"] == "budget_exceeded"
            assert "'cap'" in reply.json()["error"]["message"]
    return [reply.status_code for reply in replies]


def _spent(db: Path) -> tuple[float, int]:
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT cost_usd FROM requests WHERE status = 200").fetchall()
            total = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
        if total >= 1 or time.monotonic() > deadline:
            return sum(r[0] for r in rows), len(rows)
        time.sleep(0.05)


def test_one_process_never_overspends(tmp_path: Path) -> None:
    config = config_mod.from_dict(_raw_config(tmp_path, "one.db", None))
    with running_gateway(config) as server:
        statuses = asyncio.run(_fire([server.url], 200))
    # At least 50 fit (each costs less than its worst case; requests that finish early give
    # the difference back, so a few late ones may fit too); the spend is what is bounded.
    assert statuses.count(200) >= 50
    assert statuses.count(200) + statuses.count(429) == 200
    time.sleep(0.3)
    spent, ok = _spent(tmp_path / "one.db")
    assert ok == statuses.count(200)
    assert spent <= _limit() + _worst()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_three_processes_sharing_redis_never_overspend(
    tmp_path: Path,
    redis_service: tuple[str, str],  # noqa: F811
) -> None:
    url, prefix = redis_service
    processes, urls, dbs = [], [], []
    for i in range(3):
        db = f"replica{i}.db"
        path = tmp_path / f"proctor{i}.yaml"
        path.write_text(yaml.safe_dump(_raw_config(tmp_path, db, {"url": url, "prefix": prefix})))
        port = _free_port()
        command = [sys.executable, "-c", "from proctor.cli.main import main; main()"]
        command += ["serve", "--config", str(path), "--port", str(port), "--log-level", "warning"]
        processes.append(subprocess.Popen(command, cwd=tmp_path, env=dict(os.environ)))
        urls.append(f"http://127.0.0.1:{port}")
        dbs.append(tmp_path / db)
    try:
        for base in urls:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "replica did not start"
                time.sleep(0.1)
        statuses = asyncio.run(_fire(urls, 200))
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
    assert statuses.count(200) >= 50
    assert statuses.count(200) + statuses.count(429) == 200
    spent = sum(_spent(db)[0] for db in dbs)
    assert spent <= _limit() + _worst()
