"""What a caller asks for when creating a key, checked the same way for the CLI and the API.

Every rejection names the field, so the CLI can point at its option (`--rpm`) and the admin
API at its JSON field (`param: "rpm"`).
"""

from __future__ import annotations

import math
import re
import time
from typing import get_args

import msgspec

from proctor.config import Period
from proctor.keys.record import PREFIX_LEN, KeyRecord, hash_secret, new_key_id, new_secret

PERIODS: tuple[str, ...] = get_args(Period)
# Upper bounds that no real key needs; anything above them is a typo (an extra zero or two),
# and refusing it early beats a key that silently has no effective limit.
MAX_BUDGET_USD = 1e9
MAX_RPM = 10_000_000
MAX_TPM = 2**31 - 1  # the INTEGER column is 32-bit on PostgreSQL
MAX_TEXT = 256  # tags are cut to this length on the request path too
MAX_METADATA = 64
MAX_METADATA_VALUE = 1024


class KeySpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    tenant: str | None = None
    team: str | None = None
    user: str | None = None
    budget_usd: float | None = None
    budget_period: Period = "month"
    rpm: int | None = None
    tpm: int | None = None
    models: tuple[str, ...] | None = None
    metadata: dict[str, str] = {}


class KeySpecError(ValueError):
    """A rejected field; `field` is the KeySpec field name, None when the body as a whole."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _text(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise KeySpecError(field, f"`{field}` must not be empty")
    if len(value) > MAX_TEXT:
        raise KeySpecError(field, f"`{field}` is longer than {MAX_TEXT} characters")
    return value


def _positive(field: str, value: float | None, cap: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise KeySpecError(field, f"`{field}` must be a positive number (got {value})")
    if value > cap:
        raise KeySpecError(field, f"`{field}` must be at most {cap:g} (got {value:g})")


def _models(models: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if models is None:
        return None
    cleaned = tuple(dict.fromkeys(m.strip() for m in models))  # dedupe, keep order
    if not cleaned or any(not m for m in cleaned):
        # An empty allow-list would make a key that can call nothing: surely a mistake.
        raise KeySpecError("models", "`models` must name at least one model (omit it for all)")
    return cleaned


def _metadata(metadata: dict[str, str]) -> dict[str, str]:
    if len(metadata) > MAX_METADATA:
        raise KeySpecError("metadata", f"`metadata` holds more than {MAX_METADATA} entries")
    for key, value in metadata.items():
        if not key or len(key) > MAX_TEXT or len(value) > MAX_METADATA_VALUE:
            raise KeySpecError(
                "metadata",
                f"`metadata` keys must be 1-{MAX_TEXT} characters and values at most "
                f"{MAX_METADATA_VALUE}",
            )
    return dict(metadata)


def check(spec: KeySpec) -> KeySpec:
    """The spec with names trimmed and models deduplicated, or KeySpecError."""
    name = _text("name", spec.name)
    assert name is not None
    if spec.budget_period not in PERIODS:
        raise KeySpecError(
            "budget_period",
            f"`budget_period` must be one of {', '.join(PERIODS)} (got {spec.budget_period!r})",
        )
    _positive("budget_usd", spec.budget_usd, MAX_BUDGET_USD)
    _positive("rpm", spec.rpm, MAX_RPM)
    _positive("tpm", spec.tpm, MAX_TPM)
    return msgspec.structs.replace(
        spec,
        name=name,
        tenant=_text("tenant", spec.tenant),
        team=_text("team", spec.team),
        user=_text("user", spec.user),
        models=_models(spec.models),
        metadata=_metadata(spec.metadata),
    )


_FIELD_IN_ERROR = re.compile(r"at `\$\.(\w+)|(?:unknown|missing required) field `(\w+)`")


def spec_from_json(body: bytes) -> KeySpec:
    """Decode and check a JSON body; KeySpecError names the offending field when there is one."""
    try:
        spec = msgspec.json.decode(body, type=KeySpec)
    except msgspec.ValidationError as exc:
        match = _FIELD_IN_ERROR.search(str(exc))
        field = (match.group(1) or match.group(2)) if match else None
        raise KeySpecError(field, f"invalid key request: {exc}") from None
    except msgspec.DecodeError as exc:
        raise KeySpecError(None, f"the body must be a JSON object: {exc}") from None
    return check(spec)


def issue(spec: KeySpec, now: float | None = None) -> tuple[KeyRecord, str]:
    """A new key for a checked spec, and its secret (to be shown once, then forgotten)."""
    secret = new_secret()
    record = KeyRecord(
        id=new_key_id(),
        name=spec.name,
        hash=hash_secret(secret),
        prefix=secret[:PREFIX_LEN],
        created_at=time.time() if now is None else now,
        tenant=spec.tenant,
        team=spec.team,
        user=spec.user,
        budget_usd=spec.budget_usd,
        budget_period=spec.budget_period,
        rpm=spec.rpm,
        tpm=spec.tpm,
        models=spec.models,
        metadata=spec.metadata,
    )
    return record, secret
