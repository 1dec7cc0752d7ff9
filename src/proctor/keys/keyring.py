"""The gateway's in-memory view of the keys, and the task that keeps it current.

The request path only ever calls `Keyring.lookup`: one sha256 and one dict probe, no I/O.
Keys are created and revoked by other processes too (`proctor keys ...` writes the store
directly), so `KeyringRefresher` re-reads the whole table every `keys.refresh_s` seconds;
the admin API also asks for an immediate refresh after its own writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from proctor.keys.record import SECRET_CHARS, SECRET_PREFIX, KeyRecord, hash_secret

if TYPE_CHECKING:
    from proctor.store.base import KeyStore

log = logging.getLogger("proctor.keys")

# Longer than any secret we issue; refused before hashing so a huge header costs nothing.
_MAX_SECRET = len(SECRET_PREFIX) + SECRET_CHARS + 16


class Keyring:
    """Every key the store holds, by the hash of its secret.

    Revoked keys stay in the ring so that the gateway can tell "revoked" from "unknown", and
    so that revoking the last key does not make the ring empty: an empty ring means "no keys
    were ever created" and lets the gateway fall back to open-on-loopback, which must not
    happen just because every key has been revoked.
    """

    __slots__ = ("_by_hash",)

    def __init__(self, records: Iterable[KeyRecord] = ()) -> None:
        self._by_hash: dict[str, KeyRecord] = {}
        self.replace(records)

    def replace(self, records: Iterable[KeyRecord]) -> None:
        """Swap in a new set of keys at once; a lookup sees the old set or the new, never half."""
        self._by_hash = {record.hash: record for record in records}

    def lookup(self, secret: str) -> KeyRecord | None:
        """The key with this secret, revoked or not (check `revoked_at`), or None."""
        if len(secret) > _MAX_SECRET:
            return None
        digest = hash_secret(secret)
        record = self._by_hash.get(digest)
        # The dict probe compares digests, and its timing can only reveal how much of a
        # *digest* matched, which says nothing usable about any secret; the constant-time
        # compare is kept anyway so that "found" never rests on anything but a full match.
        if record is None or not hmac.compare_digest(record.hash, digest):
            return None
        return record

    @property
    def is_empty(self) -> bool:
        return not self._by_hash

    def __len__(self) -> int:
        return len(self._by_hash)

    def active_count(self) -> int:
        return sum(1 for record in self._by_hash.values() if record.revoked_at is None)


class KeyringRefresher:
    """Reloads `keyring` from `store` every `interval_s` seconds, and on demand.

    `start` loads once before returning and lets a failure propagate: a gateway that could
    not read its keys would otherwise start with an empty ring, which means "open". Later
    failures keep the last good ring (logged, counted) and are retried on the next tick.
    """

    def __init__(self, store: KeyStore, keyring: Keyring, interval_s: float) -> None:
        self.store = store
        self.keyring = keyring
        self.interval_s = interval_s  # may be changed on config reload; read every tick
        self.failures = 0
        self.loads = 0
        # Serialises reloads so that a slow, older read can never overwrite a newer one.
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def refresh(self) -> None:
        """Reload now; returns when the ring holds what the store held at call time."""
        async with self._lock:
            records = await self.store.all_keys()
            self.keyring.replace(records)
            self.loads += 1

    def refresh_soon(self) -> None:
        """Ask the background task for a reload without waiting for it (never blocks)."""
        self._wake.set()

    async def start(self) -> None:
        await self.refresh()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="proctor-keyring-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()
            try:
                await self.refresh()
            except Exception:
                self.failures += 1
                log.exception("reloading keys failed; keeping the %d loaded", len(self.keyring))
