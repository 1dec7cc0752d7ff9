"""Graceful shutdown of the real `proctor serve` process under load.

SIGTERM arrives while requests (streams among them) are in flight. Those requests must finish,
every request that got an answer must have its row in the request log, and the process must
exit cleanly (code 0), as process managers (systemd, Kubernetes) expect.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REQUESTS = 300
SIGNAL_AFTER = 60  # answers received before SIGTERM is sent
STAGGER_S = 0.005  # request i starts i * STAGGER_S after the first
USER_HI = [{"role": "user", "content": "hi"}]


@dataclass
class Outcome:
    index: int
    stream: bool
    request_id: str | None = None
    status: int | None = None
    complete: bool = False  # the whole body arrived (a stream ended with [DONE])
    after_signal: bool = False  # the answer finished after SIGTERM was sent
    error: str | None = None


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    returncode: int | None = None
    rows: dict[str, int] = field(default_factory=dict)
    log: str = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"proctor exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"proctor did not become healthy:\n{log.read_text()[-3000:]}")


async def one_request(
    client: httpx.AsyncClient,
    outcome: Outcome,
    signalled: asyncio.Event,
    done: list[int],
    enough: asyncio.Event,
) -> None:
    await asyncio.sleep(outcome.index * STAGGER_S)
    if signalled.is_set() and outcome.index % 2:
        return  # half of the late ones never try: the others probe a closing server
    body = {"model": "sim-small", "messages": USER_HI, "stream": outcome.stream}
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as reply:
            outcome.status = reply.status_code
            outcome.request_id = reply.headers.get("x-request-id")
            text = (await reply.aread()).decode()
        outcome.complete = text.rstrip().endswith("data: [DONE]") if outcome.stream else True
        if not outcome.stream and outcome.status == 200:
            json.loads(text)
    except httpx.HTTPError as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"
    outcome.after_signal = signalled.is_set()
    if outcome.status is not None:
        done.append(outcome.index)
        if len(done) >= SIGNAL_AFTER:
            enough.set()


async def drive(url: str, proc: subprocess.Popen[bytes]) -> list[Outcome]:
    outcomes = [Outcome(index=i, stream=i % 3 == 0) for i in range(REQUESTS)]
    signalled = asyncio.Event()
    done: list[int] = []
    enough = asyncio.Event()
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        tasks = [
            asyncio.create_task(one_request(client, outcome, signalled, done, enough))
            for outcome in outcomes
        ]
        await asyncio.wait_for(enough.wait(), timeout=120)
        proc.send_signal(signal.SIGTERM)
        signalled.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=180)
    return outcomes


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("shutdown")
    db = tmp / "proctor.db"
    config = tmp / "proctor.yaml"
    config.write_text(
        json.dumps(
            {
                "store": {"url": f"sqlite:///{db}", "flush_interval_ms": 50},
                # About 0.3 s per request, streamed or not, so many are in flight at once.
                "providers": {
                    "sim": {"type": "sim", "ttft_ms": 20, "tokens_per_s": 100, "reply_tokens": 30}
                },
                "models": {"sim-small": {"deployments": [{"provider": "sim", "model": "small"}]}},
            }
        )
    )
    port = free_port()
    log = tmp / "serve.log"
    command = [
        sys.executable,
        "-c",
        "from proctor.cli.main import main; main()",
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with log.open("wb") as log_file:
        proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=tmp)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, proc, log)
            outcomes = asyncio.run(drive(url, proc))
            returncode = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    with sqlite3.connect(db) as conn:
        rows = {row[0]: row[1] for row in conn.execute("SELECT id, status FROM requests")}
    return Run(outcomes=outcomes, returncode=returncode, rows=rows, log=log.read_text())


def answered(run: Run) -> list[Outcome]:
    return [o for o in run.outcomes if o.status is not None]


def test_the_load_straddled_the_signal(run: Run) -> None:
    assert len(answered(run)) >= SIGNAL_AFTER
    # Requests already being served when SIGTERM arrived were finished, not dropped.
    assert any(o.after_signal and o.complete for o in run.outcomes), run.log[-3000:]


def test_every_answer_has_a_request_id(run: Run) -> None:
    missing = [o for o in answered(run) if not o.request_id]
    assert not missing, missing[:5]


def test_in_flight_requests_complete(run: Run) -> None:
    cut = [o for o in answered(run) if not o.complete]
    assert not cut, cut[:5]
    assert all(o.status == 200 for o in answered(run)), [o.status for o in answered(run)]


def test_no_record_is_lost(run: Run) -> None:
    lost = [o for o in answered(run) if o.request_id not in run.rows]
    assert not lost, f"{len(lost)} answered requests have no row, e.g. {lost[:3]}"
    wrong = [o for o in answered(run) if run.rows.get(o.request_id or "") != o.status]
    assert not wrong, wrong[:3]


def test_exit_code_is_zero(run: Run) -> None:
    assert run.returncode == 0, f"exit code {run.returncode}\n{run.log[-3000:]}"


def test_no_error_was_logged(run: Run) -> None:
    assert "Traceback" not in run.log, run.log[-3000:]
    assert "ERROR" not in run.log, run.log[-3000:]
