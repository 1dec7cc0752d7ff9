"""Stage 1, identify: who is calling and what for (tags from the contract's fields/headers)."""

from __future__ import annotations

from proctor.context import Context, Reply, Tags
from proctor.errors import AuthenticationFailed
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


class Identify:
    """Attributes the request; with no virtual keys configured, only open hosts may call."""

    name = "identify"

    def __init__(self, open_hosts: frozenset[str]) -> None:
        self.open_hosts = open_hosts

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        if ctx.client_host is not None and ctx.client_host not in self.open_hosts:
            raise AuthenticationFailed(
                "no virtual keys are configured, so this gateway only accepts calls from "
                f"{', '.join(sorted(self.open_hosts))}",
                code="invalid_api_key",
            )
        ctx.tags = tags_from(ctx)
        return await call_next(ctx)
