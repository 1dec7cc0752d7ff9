"""The configuration schema: frozen structs, one per section (and sub-section).

Every error names the key it is about (`$.models.chat.deployments[0].provider`), so a bad
edit is rejected with a message that says where to look. Sections arrive here as the issues
that fill them land; an unknown section is an error, never silently ignored.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from proctor.config.alerts import AlertsConfig
from proctor.config.guards import GuardsConfig
from proctor.config.telemetry import TelemetryConfig
from proctor.config.topics import TopicsConfig


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key and the problem."""


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class ServerConfig(_Section, frozen=True):
    host: str = "127.0.0.1"
    port: int = 8787
    max_body_bytes: int = 4 * 1024 * 1024
    max_output_tokens: int = 1_000_000
    max_messages: int = 10_000
    admin_key: str | None = None
    # Requests in flight beyond this are shed with 503 + Retry-After (backpressure).
    max_inflight: int = 1024
    # Hosts allowed to call without a key when no virtual keys exist.
    open_hosts: tuple[str, ...] = ("127.0.0.1", "::1")  # client addresses, not names


class StoreConfig(_Section, frozen=True):
    url: str = "sqlite:///proctor.db"
    flush_interval_ms: int = 100
    batch_size: int = 500
    queue_size: int = 100_000


class _ProviderBase(_Section, frozen=True, tag_field="type"):
    timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    headers: dict[str, str] = {}
    max_connections: int = 256


# Quirks of OpenAI-compatible servers; providers/profiles.py defines each one.
ProfileName = Literal[
    "openai",
    "compatible",
    "vllm",
    "ollama",
    "llamacpp",
    "lmstudio",
    "groq",
    "together",
    "mistral",
    "deepseek",
    "openrouter",
    "fireworks",
]


class OpenAIProviderConfig(_ProviderBase, frozen=True, tag="openai"):
    api_key: str | None = None
    base_url: str | None = None  # None: the profile's usual address (api.openai.com for openai)
    organization: str | None = None
    profile: ProfileName = "openai"


class AzureProviderConfig(_ProviderBase, frozen=True, tag="azure", kw_only=True):
    api_key: str
    base_url: str  # https://{resource}.openai.azure.com
    api_version: str = "2024-10-21"


class AnthropicProviderConfig(_ProviderBase, frozen=True, tag="anthropic"):
    api_key: str | None = None
    base_url: str = "https://api.anthropic.com"
    version: str = "2023-06-01"
    default_max_tokens: int = 4096


SimErrorKind = Literal["500", "503", "429", "timeout", "garbage"]


class SimProviderConfig(_ProviderBase, frozen=True, tag="sim"):
    seed: int = 0
    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0  # 0: as fast as possible
    reply_tokens: int = 48
    error_rate: float = 0.0
    error_kinds: tuple[SimErrorKind, ...] = ("500",)
    embedding_dims: int = 256


ProviderConfig = (
    OpenAIProviderConfig | AzureProviderConfig | AnthropicProviderConfig | SimProviderConfig
)


Trigger = Literal[
    "5xx", "429", "timeout", "connection", "malformed", "content_policy", "context_window"
]
DEFAULT_TRIGGERS: tuple[Trigger, ...] = (
    "5xx",
    "429",
    "timeout",
    "connection",
    "malformed",
    "context_window",
)


class TimeoutsConfig(_Section, frozen=True):
    """Per-attempt limits. A stream must start within `first_token_s` and never go quiet
    for longer than `idle_s`; `total_s` bounds one attempt from start to last byte."""

    first_token_s: float = 60.0
    idle_s: float = 60.0
    total_s: float = 600.0


class RetryConfig(_Section, frozen=True):
    attempts: int = 1  # retries on the same deployment, after the first try
    backoff_s: float = 0.2  # base of the exponential backoff (full jitter)
    max_backoff_s: float = 8.0
    # A Retry-After longer than this moves on to the next deployment instead of waiting.
    max_retry_after_s: float = 10.0


class BreakerConfig(_Section, frozen=True):
    enabled: bool = True
    consecutive_failures: int = 5
    failure_rate: float = 0.5  # over the window, once min_requests have been seen
    window_s: float = 30.0
    min_requests: int = 20
    cooldown_s: float = 15.0  # open this long, then half-open lets one probe through


class HedgeConfig(_Section, frozen=True):
    after_ms: float  # start a second deployment if the first has not answered by then


class DegradeConfig(_Section, frozen=True):
    """What to answer when every path failed: a static message, or a clean 503."""

    message: str | None = None
    retry_after_s: int = 30


class ProbeConfig(_Section, frozen=True):
    """Active health probe: a one-token request every `every_s`; outcomes feed the breaker."""

    every_s: float = 60.0


class DeploymentConfig(_Section, frozen=True):
    provider: str
    model: str
    weight: float = 1.0
    context_window: int | None = None  # tokens; overrides the built-in table
    timeouts: TimeoutsConfig | None = None  # overrides the model's
    # The model names an exact version; a change in what the provider serves is an event.
    pinned: bool = False
    probe: ProbeConfig | None = None


Strategy = Literal["weighted", "least-latency", "least-busy"]


class ModelConfig(_Section, frozen=True):
    deployments: list[DeploymentConfig]
    fallbacks: tuple[str, ...] = ()
    strategy: Strategy = "weighted"
    fallback_on: tuple[Trigger, ...] = DEFAULT_TRIGGERS
    deadline_s: float = 600.0  # the whole request: every attempt, retry and fallback
    timeouts: TimeoutsConfig = TimeoutsConfig()
    retry: RetryConfig = RetryConfig()
    breaker: BreakerConfig = BreakerConfig()
    hedge: HedgeConfig | None = None
    degrade: DegradeConfig | None = None


class PriceConfig(_Section, frozen=True):
    """USD per million tokens. Cached input and cache writes default to the input price."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None  # defaults to the output price


Scope = Literal["global", "tenant", "team", "key", "user", "feature", "endpoint", "model"]
Period = Literal["minute", "hour", "day", "month", "total"]


class BudgetConfig(_Section, frozen=True):
    """A spending cap. Without `match` it applies to each subject of the scope separately
    (every user gets the limit); with `match` only to that one subject."""

    scope: Scope
    limit_usd: float
    period: Period = "month"
    match: str | None = None
    name: str | None = None
    alerts: tuple[float, ...] = (0.5, 0.8, 1.0)  # fractions of the limit that raise events


class RateLimitConfig(_Section, frozen=True):
    """Requests and tokens per minute for each subject of a scope (or only `match`)."""

    scope: Scope
    rpm: int | None = None
    tpm: int | None = None
    match: str | None = None


class KeysConfig(_Section, frozen=True):
    refresh_s: float = 2.0  # how often a gateway re-reads keys created or revoked elsewhere
    # Output tokens assumed for the worst-case reservation when a request sets no max_tokens.
    default_max_tokens: int = 4096


class RedisConfig(_Section, frozen=True):
    url: str | None = None  # redis://host:6379/0; unset: limits and budgets live in memory
    prefix: str = "proctor:"
    # When the counters cannot be reached: serve unmetered (logged, counted) or refuse (503).
    fail_closed: bool = False


class DrillsConfig(_Section, frozen=True):
    """Scheduled live drills: every path of every fallback chain gets a tiny real request."""

    every_s: float | None = None  # off unless set
    max_tokens: int = 1


class FeedbackConfig(_Section, frozen=True):
    """User feedback: POST /v1/feedback (with a key) and /v1/feedback/browser (with a token)."""

    # Signs `x-proctor-feedback-token`. Unset: derived from server.admin_key; neither set: a
    # random secret generated at first start and kept in the store, so all replicas agree.
    secret: str | None = None
    # Page origins allowed to POST /v1/feedback/browser ("*": any); empty: same-origin only.
    allowed_origins: tuple[str, ...] = ()
    # A score below this counts as negative in the admin report.
    negative_below: float = 0.0
    # Ratings of one request per channel (per replica) before further changes get 429.
    max_changes: int = 10
    # Finished requests remembered (id -> key) so they can be rated before their row is written.
    recent_requests: int = 100_000


class Config(_Section, frozen=True):
    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    providers: dict[str, ProviderConfig] = {}
    models: dict[str, ModelConfig] = {}
    drills: DrillsConfig = DrillsConfig()
    redis: RedisConfig = RedisConfig()
    pricing: dict[str, PriceConfig] = {}  # model name or glob -> price; extends the table
    keys: KeysConfig = KeysConfig()
    budgets: list[BudgetConfig] = []
    limits: list[RateLimitConfig] = []
    feedback: FeedbackConfig = FeedbackConfig()
    alerts: AlertsConfig = AlertsConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    topics: TopicsConfig = TopicsConfig()
    guards: GuardsConfig = GuardsConfig()
