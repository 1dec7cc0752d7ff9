"""The exception tree. Each class maps to one HTTP status and one error type per wire shape.

    ProctorError                      (500 api_error)
    ├── BadRequest                    (400 invalid_request_error)
    │   └── PayloadTooLarge           (413 request_too_large)
    ├── AuthenticationFailed          (401 authentication_error)
    ├── PermissionDenied              (403 permission_error)
    ├── NotFound                      (404 not_found_error)
    ├── Conflict                      (409 invalid_request_error: already decided, expired)
    ├── RateLimited                   (429 rate_limit_error)
    ├── ServiceUnavailable            (503 overloaded_error)
    └── UpstreamError                 (502 api_error; the provider is named in the message)
        ├── UpstreamStatusError       the provider answered with an error status
        ├── UpstreamTimeout           (504) connect, first-token, idle or total deadline passed
        ├── UpstreamConnectionError   refused, reset, DNS
        └── UpstreamProtocolError     the provider answered with something that is not its API

Errors raised by a provider keep what the caller needs (status, Retry-After) so that the
resilience layer can decide to retry or fall back, and so that the client sees an honest
status: a provider's 400 about the request stays a 400.
"""

from __future__ import annotations


class ProctorError(Exception):
    status: int = 500
    openai_type: str = "api_error"
    anthropic_type: str = "api_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}


class BadRequest(ProctorError):
    status = 400
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"


class PayloadTooLarge(BadRequest):
    status = 413
    anthropic_type = "request_too_large"


class AuthenticationFailed(ProctorError):
    status = 401
    openai_type = "authentication_error"
    anthropic_type = "authentication_error"


class PermissionDenied(ProctorError):
    status = 403
    openai_type = "permission_error"
    anthropic_type = "permission_error"


class NotFound(ProctorError):
    status = 404
    openai_type = "invalid_request_error"
    anthropic_type = "not_found_error"


class Conflict(ProctorError):
    status = 409
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"


class RateLimited(ProctorError):
    status = 429
    openai_type = "rate_limit_error"
    anthropic_type = "rate_limit_error"


class ServiceUnavailable(ProctorError):
    status = 503
    openai_type = "service_unavailable"
    anthropic_type = "overloaded_error"


class UpstreamError(ProctorError):
    """Something went wrong between proctor and a provider."""

    status = 502
    openai_type = "upstream_error"
    anthropic_type = "api_error"

    def __init__(self, provider: str, message: str, *, code: str | None = None) -> None:
        super().__init__(f"provider '{provider}': {message}", code=code)
        self.provider = provider


class UpstreamStatusError(UpstreamError):
    def __init__(
        self,
        provider: str,
        upstream_status: int,
        message: str,
        *,
        retry_after_s: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(provider, f"HTTP {upstream_status}: {message}", code=code)
        self.upstream_status = upstream_status
        self.retry_after_s = retry_after_s
        # Client errors about the request itself pass through with their own status;
        # everything else from upstream is a bad gateway from the caller's point of view.
        if upstream_status in (400, 404, 413, 422):
            self.status = 400 if upstream_status == 422 else upstream_status
            self.openai_type = "invalid_request_error"
            self.anthropic_type = "invalid_request_error"
        elif upstream_status == 429:
            self.status = 429
            self.openai_type = "rate_limit_error"
            self.anthropic_type = "rate_limit_error"
            if retry_after_s is not None:
                self.headers["retry-after"] = str(max(1, round(retry_after_s)))


class UpstreamTimeout(UpstreamError):
    status = 504
    openai_type = "timeout"
    anthropic_type = "api_error"


class UpstreamConnectionError(UpstreamError):
    pass


class UpstreamProtocolError(UpstreamError):
    pass
