"""Virtual keys: records and secrets, the checked create request, and the gateway's keyring."""

from proctor.keys.keyring import Keyring, KeyringRefresher
from proctor.keys.record import (
    AmbiguousKey,
    KeyNotFound,
    KeyRecord,
    hash_secret,
    new_secret,
    verify,
)
from proctor.keys.spec import KeySpec, KeySpecError, check, issue, spec_from_json

__all__ = [
    "AmbiguousKey",
    "KeyNotFound",
    "KeyRecord",
    "KeySpec",
    "KeySpecError",
    "Keyring",
    "KeyringRefresher",
    "check",
    "hash_secret",
    "issue",
    "new_secret",
    "spec_from_json",
    "verify",
]
