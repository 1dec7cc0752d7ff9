"""Stage 1, identify: who is calling and what for (tags from the contract's fields/headers)."""

from __future__ import annotations

from typing import Protocol

from proctor.context import Context, Reply, Tags
from proctor.errors import AuthenticationFailed, PermissionDenied
from proctor.pipeline import Next
from proctor.wire.types import ChatRequest

# Header -> tag. Metadata keys with the same names (and `environment`) are read too.
_HEADER_TAGS = {
    "x-proctor-user": "user",
    "x-proctor-feature": "feature",
    "x-proctor-endpoint": "endpoint",
    "x-proctor-session": "session",
    "x-proctor-env": "environment",
}
_METADATA_TAGS = {
    "user": "user",
    "user_id": "user",
    "feature": "feature",
    "endpoint": "endpoint",
    "session": "session",
    "session_id": "session",
    "env": "environment",
    "environment": "environment",
    "tenant": "tenant",
    "team": "team",
}


def tags_from(ctx: Context) -> Tags:
    """Explicit headers win over metadata, which wins over the OpenAI `user` field."""
    tags = Tags()
    request = ctx.request
    if request.user:
        tags.user = request.user
    metadata = request.metadata if isinstance(request, ChatRequest) else None
    if metadata:
        for key, tag in _METADATA_TAGS.items():
            value = metadata.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                setattr(tags, tag, str(value)[:256])
    headers = ctx.headers
    for header, tag in _HEADER_TAGS.items():
        value = headers.get(header)
        if value:
            setattr(tags, tag, value[:256])
    return tags


class KeyView(Protocol):
    """What identify needs of a virtual key (proctor.keys.KeyRecord has it)."""

    @property
    def id(self) -> str: ...
    @property
    def tenant(self) -> str | None: ...
    @property
    def team(self) -> str | None: ...
    @property
    def user(self) -> str | None: ...
    @property
    def revoked_at(self) -> float | None: ...
    @property
    def models(self) -> tuple[str, ...] | None: ...


class Keys(Protocol):
    @property
    def is_empty(self) -> bool: ...

    def lookup(self, secret: str) -> KeyView | None: ...


def secret_of(headers: dict[str, str]) -> str | None:
    authorization = headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return headers.get("x-api-key") or None


def verify_key(keys: Keys, secret: str | None) -> KeyView:
    """The caller's live key, or the 401 that says what is wrong with it."""
    if secret is None:
        raise AuthenticationFailed(
            "a virtual key is required: send `Authorization: Bearer <key>` or `x-api-key`",
            code="missing_api_key",
        )
    key = keys.lookup(secret)
    if key is None:
        raise AuthenticationFailed("the key is not valid", code="invalid_api_key")
    if key.revoked_at is not None:
        raise AuthenticationFailed("the key has been revoked", code="revoked_api_key")
    return key


class Identify:
    """Authenticates and attributes the request.

    With virtual keys configured every caller needs one (`Authorization: Bearer` or
    `x-api-key`); the key's tenant and team always win over anything the request claims, and
    its user wins when it has one. With no keys, only the open hosts (loopback) may call.
    """

    name = "identify"

    def __init__(self, open_hosts: frozenset[str], keys: Keys) -> None:
        self.open_hosts = open_hosts
        self.keys = keys

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        tags = tags_from(ctx)
        if self.keys.is_empty:
            if ctx.client_host is not None and ctx.client_host not in self.open_hosts:
                raise AuthenticationFailed(
                    "no virtual keys are configured, so this gateway only accepts calls from "
                    f"{', '.join(sorted(self.open_hosts))}",
                    code="invalid_api_key",
                )
        else:
            key = self._authenticate(ctx)
            tags.key_id, tags.tenant, tags.team = key.id, key.tenant, key.team
            tags.user = key.user or tags.user
            ctx.notes["key"] = key
        ctx.tags = tags
        return await call_next(ctx)

    def _authenticate(self, ctx: Context) -> KeyView:
        key = verify_key(self.keys, secret_of(ctx.headers))
        if key.models and ctx.request.model not in key.models:
            raise PermissionDenied(
                f"this key may not use the model '{ctx.request.model}' "
                f"(allowed: {', '.join(key.models)})",
                code="model_not_allowed",
                param="model",
            )
        return key
