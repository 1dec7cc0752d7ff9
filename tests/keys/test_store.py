"""Keys in the SQLite store: round trip, hash-only storage, revocation, prefixes."""

from __future__ import annotations

import sqlite3
import string
from pathlib import Path

import msgspec
import pytest

from proctor.keys import AmbiguousKey, KeyNotFound, KeySpec, check, hash_secret, issue, verify
from proctor.keys.record import KeyRecord
from proctor.store.base import KeyStore
from proctor.store.migrations import MIGRATIONS
from proctor.store.sqlite import SQLiteStore


def _spec(name: str = "svc", **fields: object) -> KeySpec:
    return check(msgspec.convert({"name": name, **fields}, KeySpec))


def _bytes_of(folder: Path, pattern: str) -> bytes:
    """Every byte of the database, its WAL and shared memory: what an attacker could read."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob(pattern)))


def test_secret_format_and_hash() -> None:
    record, secret = issue(_spec())
    assert secret.startswith("pk-")
    assert len(secret) == 43
    assert set(secret[3:]) <= set(string.ascii_letters + string.digits + "-_")
    assert record.hash == hash_secret(secret)
    assert len(record.hash) == 64
    assert record.prefix == secret[:8]
    assert record.id.startswith("key_")
    assert len(record.id) == 16
    assert verify(secret, record)
    assert not verify(secret + "x", record)
    assert "hash" not in record.public()
    assert issue(_spec())[1] != secret


def test_migration_3_creates_the_keys_table(tmp_path: Path) -> None:
    assert MIGRATIONS[2].number == 3
    db = sqlite3.connect(tmp_path / "m.db")
    from proctor.store.sqlite import migrate

    migrate(db)
    columns = [row[1] for row in db.execute("PRAGMA table_info(keys)")]
    assert tuple(columns) == KeyRecord.__struct_fields__


async def test_round_trip_keeps_every_field(store: SQLiteStore) -> None:
    assert isinstance(store, KeyStore)
    spec = _spec(
        "support bot",
        tenant="acme",
        team="support",
        user="bob",
        budget_usd=12.5,
        budget_period="day",
        rpm=60,
        tpm=100_000,
        models=["chat-large", "chat-small"],
        metadata={"owner": "bob@acme.test", "ticket": "OPS-1"},
    )
    record, _ = issue(spec)
    await store.create_key(record)
    plain, _ = issue(_spec("plain"))
    await store.create_key(plain)
    assert await store.list_keys() == [record, plain]
    assert await store.all_keys() == [record, plain]
    loaded = (await store.list_keys())[0]
    assert loaded.models == ("chat-large", "chat-small")
    assert loaded.metadata == {"owner": "bob@acme.test", "ticket": "OPS-1"}
    assert loaded.budget_period == "day"
    assert plain.models is None
    assert (await store.list_keys())[1].models is None


async def test_the_secret_never_reaches_the_database_file(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'grep.db'}")
    await store.open()
    secrets = []
    for i in range(5):
        record, secret = issue(_spec(f"k{i}", tenant="t"))
        await store.create_key(record)
        secrets.append(secret)
    await store.revoke_key(record.id)
    await store.close()
    raw = _bytes_of(tmp_path, "grep.db*")
    for secret in secrets:
        assert hash_secret(secret).encode() in raw  # the rows are in the bytes we search
        # Neither the whole secret nor its secret part (past the shown prefix) is stored.
        assert secret.encode() not in raw
        assert secret[8:].encode() not in raw
        assert secret[8:24].encode() not in raw


async def test_revoke_by_id_or_prefix_and_is_idempotent(store: SQLiteStore) -> None:
    first, _ = issue(_spec("first"))
    second, _ = issue(_spec("second"))
    await store.create_key(first)
    await store.create_key(second)
    revoked = await store.revoke_key(first.id)
    assert revoked.id == first.id
    assert revoked.revoked_at is not None
    assert [r.id for r in await store.list_keys()] == [second.id]
    assert [r.id for r in await store.list_keys(include_revoked=True)] == [first.id, second.id]
    again = await store.revoke_key(first.id)
    assert again.revoked_at == revoked.revoked_at  # the first revocation time stands
    by_prefix = await store.revoke_key(second.prefix)
    assert by_prefix.id == second.id
    assert await store.list_keys() == []
    with pytest.raises(KeyNotFound):
        await store.revoke_key("key_000000000000")


async def test_an_ambiguous_prefix_revokes_nothing(store: SQLiteStore) -> None:
    one, _ = issue(_spec("one"))
    two, _ = issue(_spec("two"))
    two = msgspec.structs.replace(two, prefix=one.prefix)
    await store.create_key(one)
    await store.create_key(two)
    with pytest.raises(AmbiguousKey, match="use an id"):
        await store.revoke_key(one.prefix)
    assert len(await store.list_keys()) == 2
    assert (await store.revoke_key(two.id)).id == two.id


async def test_a_duplicate_id_or_hash_is_refused(store: SQLiteStore) -> None:
    record, _ = issue(_spec())
    await store.create_key(record)
    with pytest.raises(sqlite3.IntegrityError):
        await store.create_key(msgspec.structs.replace(record, id="key_other0000000"))
    with pytest.raises(sqlite3.IntegrityError):
        await store.create_key(msgspec.structs.replace(record, hash="0" * 64))
    assert await store.list_keys() == [record]
