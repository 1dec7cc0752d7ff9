"""The pieces alone: config checks, the migration, tokens, the recent-request map."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import pytest

from proctor.config import ConfigError, from_dict
from proctor.context import Context, Tags
from proctor.feedback import RecentRequests, Seen, Signer
from proctor.feedback.service import Changes, FeedbackService
from proctor.store.migrations import MIGRATIONS
from proctor.store.records import FeedbackRecord
from proctor.store.sqlite import SQLiteStore, migrate
from proctor.store.writer import BatchWriter
from proctor.wire.types import ChatRequest


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ({"secret": "short"}, "$.feedback.secret"),
        ({"allowed_origins": ["https://app.example.com/"]}, "$.feedback.allowed_origins[0]"),
        ({"allowed_origins": ["*", "app.example.com"]}, "$.feedback.allowed_origins[1]"),
        ({"negative_below": 2}, "$.feedback.negative_below"),
        ({"max_changes": 0}, "$.feedback.max_changes"),
        ({"recent_requests": 0}, "$.feedback.recent_requests"),
        ({"allowed_origin": ["*"]}, "allowed_origin"),
    ],
)
def test_config_errors_name_the_key(section: dict[str, object], where: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(where)):
        from_dict({"feedback": section})


def test_config_accepts_origins_with_ports_and_ipv6() -> None:
    origins = ["http://localhost:3000", "https://[::1]:8443", "*"]
    config = from_dict({"feedback": {"allowed_origins": origins, "secret": "x" * 16}})
    assert config.feedback.allowed_origins == tuple(origins)


def test_migration_5_creates_feedback_and_the_secret_table(tmp_path: Path) -> None:
    assert [m.number for m in MIGRATIONS if m.name == "feedback"] == [5]
    db = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    migrate(db)
    columns = [row[1] for row in db.execute("PRAGMA table_info(feedback)")]
    assert columns == list(FeedbackRecord.__struct_fields__)
    assert db.execute("SELECT COUNT(*) FROM gateway_secrets").fetchone() == (0,)


async def test_rows_replace_per_request_and_channel(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'f.db'}")
    await store.open()
    try:
        rows = [
            FeedbackRecord("req_1", "api", "fb_1", 1.0, 1.0),
            FeedbackRecord("req_1", "browser", "fb_2", 2.0, -1.0),
            FeedbackRecord("req_1", "api", "fb_3", 3.0, 0.5, "better", '{"a":1}', "key_x"),
        ]
        await store.write_batch(rows[:1])
        await store.write_batch(rows[1:])
        [stored] = await store.read_rows(
            [("SELECT id, channel, score, comment, rated_by FROM feedback ORDER BY id", ())]
        )
        assert [tuple(r.values()) for r in stored] == [
            ("fb_2", "browser", -1.0, None, None),
            ("fb_3", "api", 0.5, "better", "key_x"),
        ]
    finally:
        await store.close()


async def test_the_stored_secret_is_created_once_and_shared(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    first, second = SQLiteStore(url), SQLiteStore(url)
    await first.open()
    await second.open()
    try:
        assert await first.ensure_secret("feedback_token", "one") == "one"
        assert await second.ensure_secret("feedback_token", "two") == "one"
    finally:
        await first.close()
        await second.close()


def test_signer_tokens_are_short_url_safe_and_verified() -> None:
    signer = Signer("s" * 20)
    token = signer.token("req_abc")
    assert len(token) == 22
    assert token.replace("-", "").replace("_", "").isalnum()
    assert signer.verify("req_abc", token)
    assert not signer.verify("req_abd", token)
    assert not signer.verify("req_abc", token[:-1])
    assert not signer.verify("req_abc", "\udcff" * 22)  # unencodable: refused, not an error
    assert not Signer("t" * 20).verify("req_abc", token)


def _ctx(request_id: str, key_id: str | None = None) -> Context:
    return Context(
        request=ChatRequest(model="m", messages=[]), request_id=request_id, tags=Tags(key_id=key_id)
    )


async def test_recent_requests_forget_the_oldest() -> None:
    recent = RecentRequests(capacity=3)
    recent.observe([_ctx("a", "k1"), _ctx("b"), _ctx("c")])
    recent.observe([_ctx("d", "k2")])
    assert len(recent) == 3
    assert recent.lookup("a") is None
    assert _key(recent.lookup("b")) is None
    assert _key(recent.lookup("d")) == "k2"
    refused = _ctx("e")
    refused.status = 401  # refused at authentication: not rateable, not remembered
    recent.observe([refused])
    assert recent.lookup("e") is None
    assert _key(recent.lookup("d")) == "k2"


async def test_wait_for_returns_at_once_when_the_writer_holds_nothing() -> None:
    recent = RecentRequests(capacity=10)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await recent.wait_for("x", lambda: 0, timeout_s=5) is None
    assert loop.time() - started < 0.1


async def test_wait_for_sees_a_request_when_its_batch_is_observed() -> None:
    recent = RecentRequests(capacity=10)
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, recent.observe, [_ctx("other")])
    loop.call_later(0.1, recent.observe, [_ctx("x", "k")])
    assert _key(await recent.wait_for("x", lambda: 1, timeout_s=5)) == "k"
    # A writer that never drains: the wait ends at the timeout.
    started = loop.time()
    assert await recent.wait_for("y", lambda: 1, timeout_s=0.1) is None
    assert 0.09 < loop.time() - started < 1


def test_changes_are_counted_per_request_and_channel_and_bounded() -> None:
    changes = Changes(capacity=2)
    assert [changes.take("r", "api", 2) for _ in range(3)] == [True, True, False]
    assert changes.take("r", "browser", 2)
    assert changes.take("s", "api", 2)  # forgets ("r", "api"), the oldest
    assert changes.take("r", "api", 2)


async def test_service_finds_requests_in_memory_in_the_store_or_not_at_all(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'svc.db'}")
    await store.open()
    writer = BatchWriter(store, flush_interval_s=0.02)
    service = FeedbackService(store, writer, from_dict({}).feedback)
    await service.start()
    writer.start()
    try:
        ctx = _ctx("req_kept", "key_1")
        ctx.finish()
        writer.submit(ctx)
        assert _key(await service.locate("req_kept")) == "key_1"  # waited for the batch
        service.recent = RecentRequests(capacity=1)  # forgotten: found in the store
        assert _key(await service.locate("req_kept")) == "key_1"
        assert await service.locate("req_never") is None
    finally:
        await writer.close()
        await store.close()


def _key(seen: Seen | None) -> str | None:
    assert seen is not None
    return seen.key_id
