from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx

CHAT = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]}


def chat(
    client: httpx.Client, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    reply = client.post("/v1/chat/completions", json={**CHAT, **body}, headers=headers or {})
    assert reply.status_code == 200, reply.text
    return reply


def error_of(reply: httpx.Response) -> dict[str, Any]:
    error = reply.json()["error"]
    assert isinstance(error, dict)
    return error


def feedback_rows(db_path: Path, count: int, timeout_s: float = 10) -> list[dict[str, Any]]:
    """The feedback table once it holds `count` rows (the writer flushes in the background)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with sqlite3.connect(db_path) as db:
            db.row_factory = sqlite3.Row
            rows = [dict(r) for r in db.execute("SELECT * FROM feedback ORDER BY created_at")]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)
