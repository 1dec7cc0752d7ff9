"""The admin API for virtual keys: create (the secret is in that reply only), list, revoke.

Same auth as the rest of /admin (admin key, or loopback when none is configured). Writes go
straight to the store, then this replica's keyring is reloaded at once; other replicas and
gateways pick the change up within `keys.refresh_s`.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from proctor.app import Gateway
from proctor.errors import BadRequest, NotFound, ProctorError
from proctor.keys import AmbiguousKey, KeyNotFound, KeySpecError, spec_from_json
from proctor.keys import issue as issue_key
from proctor.server.admin import _authorize as authorize  # the one admin auth rule
from proctor.server.http import error_response, read_body

log = logging.getLogger("proctor.keys")
MAX_BODY = 64 * 1024


async def _refresh(gateway: Gateway) -> None:
    """Reload this gateway's keyring now, so the change applies to its very next request."""
    try:
        await gateway.refresher.refresh()
    except Exception:
        # The write is done and durable; the periodic reload will pick it up.
        log.exception("immediate keyring reload failed; the next periodic one will retry")


async def create_key(request: Request) -> Response:
    try:
        gateway = authorize(request)
        store = gateway.store
        body = await read_body(request, MAX_BODY)
        try:
            spec = spec_from_json(body)
        except KeySpecError as exc:
            raise BadRequest(exc.message, param=exc.field, code="invalid_key_request") from None
        record, secret = issue_key(spec)
        await store.create_key(record)
    except ProctorError as exc:
        return error_response(exc, "openai")
    await _refresh(gateway)
    log.info("key %s (%s) created through the admin API", record.id, record.name)
    return JSONResponse({"object": "key", **record.public(), "secret": secret}, status_code=201)


async def list_keys(request: Request) -> Response:
    try:
        gateway = authorize(request)
        store = gateway.store
        include_revoked = request.query_params.get("all", "").lower() in ("1", "true", "yes")
    except ProctorError as exc:
        return error_response(exc, "openai")
    records = await store.list_keys(include_revoked=include_revoked)
    data = [{"object": "key", **record.public()} for record in records]
    return JSONResponse({"object": "list", "data": data})


async def revoke_key(request: Request) -> Response:
    key_id: str = request.path_params["key_id"]
    try:
        gateway = authorize(request)
        store = gateway.store
        try:
            record = await store.revoke_key(key_id)
        except KeyNotFound as exc:
            raise NotFound(str(exc), param="key_id", code="key_not_found") from None
        except AmbiguousKey as exc:
            raise BadRequest(str(exc), param="key_id", code="ambiguous_key") from None
    except ProctorError as exc:
        return error_response(exc, "openai")
    await _refresh(gateway)
    log.info("key %s (%s) revoked through the admin API", record.id, record.name)
    return JSONResponse({"object": "key", **record.public()})
