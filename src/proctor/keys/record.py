"""A virtual key: who it belongs to, what it may spend and call, and how its secret is checked.

Only the sha256 of a secret is stored. The secret is 240 bits from `secrets`, so a fast hash
is enough: a slow KDF (bcrypt, scrypt, argon2) protects low-entropy passwords from guessing,
and nobody can enumerate 2**240 candidates whatever the hash costs. A fast hash also keeps
the gateway's per-request lookup a single dict probe.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import msgspec

from proctor.config import Period

SECRET_PREFIX = "pk-"
SECRET_CHARS = 40  # url-safe characters after the prefix, 6 bits each
PREFIX_LEN = 8  # of the secret, kept for display: "pk-" and five random characters


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A virtual key as stored; the secret itself is never part of it."""

    id: str  # public handle, "key_" + 12 hex
    name: str
    hash: str  # sha256 hex of the secret
    prefix: str  # first PREFIX_LEN characters of the secret
    created_at: float  # unix time
    tenant: str | None = None
    team: str | None = None
    user: str | None = None
    revoked_at: float | None = None
    budget_usd: float | None = None
    budget_period: Period = "month"
    rpm: int | None = None
    tpm: int | None = None
    models: tuple[str, ...] | None = None  # allowed public model names; None allows all
    metadata: dict[str, str] = {}

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public(self) -> dict[str, object]:
        """What the CLI and the admin API show: everything but the hash."""
        shown = msgspec.to_builtins(self)
        assert isinstance(shown, dict)
        del shown["hash"]
        return shown


class KeyNotFound(LookupError):
    """No key has that id or prefix."""


class AmbiguousKey(LookupError):
    """A prefix matched more than one key; the caller has to use the id."""


def new_secret() -> str:
    # token_urlsafe(n) yields ceil(4n/3) characters; 30 bytes -> exactly 40, no padding.
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_CHARS * 3 // 4)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(6)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def verify(secret: str, record: KeyRecord) -> bool:
    """Whether `secret` is this key's, in time independent of where the hashes differ."""
    return hmac.compare_digest(hash_secret(secret), record.hash)
