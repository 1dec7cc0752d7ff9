"""The gateway's in-memory keyring and the refresher that keeps it in step with the store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from proctor.keys import KeyRecord, Keyring, KeyringRefresher, KeySpec, issue
from proctor.store.sqlite import SQLiteStore


def _key(name: str = "k", **fields: object) -> tuple[KeyRecord, str]:
    return issue(msgspec.convert({"name": name, **fields}, KeySpec))


async def _eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_lookup_by_secret() -> None:
    active, active_secret = _key("active", tenant="acme")
    gone, gone_secret = _key("gone")
    gone = msgspec.structs.replace(gone, revoked_at=time.time())
    ring = Keyring([active, gone])
    assert ring.lookup(active_secret) is active
    assert ring.lookup(gone_secret) is gone  # revoked keys are found: identify says "revoked"
    assert ring.lookup("pk-" + "x" * 40) is None
    assert ring.lookup("") is None
    assert ring.lookup(active_secret + "x" * 10_000) is None
    assert ring.lookup(active.hash) is None  # the stored hash is not a credential
    assert len(ring) == 2
    assert ring.active_count() == 1
    assert not ring.is_empty


def test_empty_means_no_keys_ever_not_all_revoked() -> None:
    assert Keyring().is_empty
    record, _ = _key()
    revoked = msgspec.structs.replace(record, revoked_at=time.time())
    ring = Keyring([revoked])
    assert not ring.is_empty  # revoking the last key must not reopen the gateway
    assert ring.active_count() == 0
    ring.replace([])
    assert ring.is_empty


def test_replace_swaps_the_whole_set() -> None:
    first, first_secret = _key("first")
    second, second_secret = _key("second")
    ring = Keyring([first])
    ring.replace([second])
    assert ring.lookup(first_secret) is None
    assert ring.lookup(second_secret) is second


async def test_refresh_picks_up_keys_written_by_another_connection(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    gateway_store, cli_store = SQLiteStore(url), SQLiteStore(url)
    await gateway_store.open()
    await cli_store.open()  # another connection, as `proctor keys` in another process has
    ring = Keyring()
    refresher = KeyringRefresher(gateway_store, ring, interval_s=0.05)
    try:
        await refresher.start()
        assert ring.is_empty
        record, secret = _key("late", team="ml")
        await cli_store.create_key(record)
        await _eventually(lambda: ring.lookup(secret) is not None)
        found = ring.lookup(secret)
        assert found is not None
        assert found.team == "ml"
        assert found.revoked_at is None
        await cli_store.revoke_key(record.id)
        await _eventually(lambda: (ring.lookup(secret) or record).revoked_at is not None)
        assert refresher.loads >= 2
        assert refresher.failures == 0
    finally:
        await refresher.stop()
        await cli_store.close()
        await gateway_store.close()


async def test_an_immediate_refresh_needs_no_tick(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'k.db'}")
    await store.open()
    ring = Keyring()
    refresher = KeyringRefresher(store, ring, interval_s=3600)
    try:
        await refresher.start()
        record, secret = _key()
        await store.create_key(record)
        assert ring.lookup(secret) is None
        await refresher.refresh()
        assert ring.lookup(secret) == record
        await store.revoke_key(record.id)
        refresher.refresh_soon()
        await _eventually(lambda: (ring.lookup(secret) or record).revoked_at is not None)
    finally:
        await refresher.stop()
        await store.close()


class FlakyStore:
    def __init__(self, records: list[KeyRecord]) -> None:
        self.records = records
        self.fail = False

    async def create_key(self, record: KeyRecord) -> None:
        raise NotImplementedError

    async def list_keys(self, include_revoked: bool = False) -> list[KeyRecord]:
        raise NotImplementedError

    async def revoke_key(self, id_or_prefix: str) -> KeyRecord:
        raise NotImplementedError

    async def all_keys(self) -> list[KeyRecord]:
        if self.fail:
            raise OSError("database is locked")
        return list(self.records)


async def test_a_failed_reload_keeps_the_last_good_ring() -> None:
    record, secret = _key()
    store = FlakyStore([record])
    ring = Keyring()
    refresher = KeyringRefresher(store, ring, interval_s=0.02)
    await refresher.start()
    try:
        store.fail = True
        await _eventually(lambda: refresher.failures >= 2)
        assert ring.lookup(secret) == record
        store.fail = False
        store.records = []
        await _eventually(lambda: ring.is_empty)
    finally:
        await refresher.stop()


async def test_start_fails_loudly_when_keys_cannot_be_read() -> None:
    # Starting with an empty ring would mean "no keys: open on loopback", so it must not.
    store = FlakyStore([])
    store.fail = True
    refresher = KeyringRefresher(store, Keyring(), interval_s=1)
    with pytest.raises(OSError, match="locked"):
        await refresher.start()
    await refresher.stop()
