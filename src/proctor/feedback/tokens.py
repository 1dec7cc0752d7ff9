"""Feedback tokens: `x-proctor-feedback-token` = HMAC-SHA256(key, request_id), truncated.

A token lets whoever holds a response rate that one request, and nothing else, without a
virtual key: the application hands it to its page, and the end user's browser sends it back
to `POST /v1/feedback/browser`. The signing key is derived (HMAC-SHA256 over a fixed label)
from the first of `feedback.secret`, `server.admin_key`, or a random secret generated at the
first start and kept in the store, so every replica sharing the config or the store issues
and accepts the same tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

TOKEN_HEADER = "x-proctor-feedback-token"
TOKEN_BYTES = 16  # 128 bits: 22 url-safe base64 characters
TOKEN_CHARS = 22
_LABEL = b"proctor feedback token v1"


def derive_key(secret: str) -> bytes:
    """The signing key for a secret; the secret itself (maybe the admin key) never signs."""
    return hmac.new(secret.encode("utf-8"), _LABEL, hashlib.sha256).digest()


class Signer:
    """Issues and checks the tokens for one signing key; a token costs one HMAC."""

    __slots__ = ("_base",)

    def __init__(self, secret: str) -> None:
        # Keyed once; each token copies the keyed state instead of re-deriving the pads.
        self._base = hmac.new(derive_key(secret), digestmod=hashlib.sha256)

    def token(self, request_id: str) -> str:
        mac = self._base.copy()
        mac.update(request_id.encode("utf-8"))
        return base64.urlsafe_b64encode(mac.digest()[:TOKEN_BYTES]).rstrip(b"=").decode("ascii")

    def verify(self, request_id: str, token: str) -> bool:
        """Constant-time: how much of a wrong token matched is not visible in the timing."""
        expected = self.token(request_id).encode("ascii")
        return hmac.compare_digest(expected, token.encode("utf-8", "replace"))


def signing_secret(secret: str | None, admin_key: str | None, stored: str) -> str:
    """The configured feedback secret, else the admin key, else the stored random one."""
    return secret or admin_key or stored
