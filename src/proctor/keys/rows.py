"""KeyRecord <-> table row, shared by the SQL backends (one schema: migration 3)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from proctor.keys.record import AmbiguousKey, KeyNotFound, KeyRecord

KEY_COLUMNS: tuple[str, ...] = KeyRecord.__struct_fields__
_encode = msgspec.json.Encoder().encode


def key_row(record: KeyRecord) -> tuple[object, ...]:
    """The row for KEY_COLUMNS, in order; lists and maps as JSON text."""
    values = {name: getattr(record, name) for name in KEY_COLUMNS}
    values["models"] = None if record.models is None else _encode(record.models).decode()
    values["metadata"] = _encode(record.metadata).decode()
    return tuple(values[name] for name in KEY_COLUMNS)


def key_from_row(row: Mapping[str, Any]) -> KeyRecord:
    values = dict(row)
    models = values.get("models")
    values["models"] = None if models is None else msgspec.json.decode(models)
    values["metadata"] = msgspec.json.decode(values.get("metadata") or "{}")
    # convert (not the constructor) so that a row that no longer fits the record is an
    # error here, naming the column, rather than a wrong value later on the request path.
    return msgspec.convert(values, KeyRecord)


def pick_key(matches: Sequence[KeyRecord], id_or_prefix: str) -> KeyRecord:
    """The one key an id or display prefix names: an exact id wins over prefixes."""
    for record in matches:
        if record.id == id_or_prefix:
            return record
    if not matches:
        raise KeyNotFound(f"no key has the id or prefix {id_or_prefix!r}")
    if len(matches) > 1:
        ids = ", ".join(sorted(r.id for r in matches))
        raise AmbiguousKey(f"the prefix {id_or_prefix!r} matches several keys ({ids}); use an id")
    return matches[0]


def revoked(record: KeyRecord) -> KeyRecord:
    """The record revoked now; a key already revoked keeps the time it was first revoked."""
    if record.revoked_at is not None:
        return record
    return msgspec.structs.replace(record, revoked_at=time.time())
