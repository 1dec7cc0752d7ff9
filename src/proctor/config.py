"""Typed configuration: YAML with ${ENV} interpolation, validated into frozen structs.

Every error names the key it is about (`$.models.chat.deployments[0].provider`), so a bad
edit is rejected with a message that says where to look. Sections arrive here as the issues
that fill them land; an unknown section is an error, never silently ignored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml


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
    open_hosts: tuple[str, ...] = ("127.0.0.1", "::1", "localhost")


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


class OpenAIProviderConfig(_ProviderBase, frozen=True, tag="openai"):
    api_key: str | None = None
    base_url: str = "https://api.openai.com/v1"
    organization: str | None = None
    # Quirks of OpenAI-compatible servers: openai, vllm, ollama, llamacpp, groq, together...
    profile: str = "openai"


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


class DeploymentConfig(_Section, frozen=True):
    provider: str
    model: str
    weight: float = 1.0
    context_window: int | None = None  # tokens; overrides the built-in table
    timeouts: TimeoutsConfig | None = None  # overrides the model's
    # The model names an exact version; a change in what the provider serves is an event.
    pinned: bool = False


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


class Config(_Section, frozen=True):
    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    providers: dict[str, ProviderConfig] = {}
    models: dict[str, ModelConfig] = {}


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str], path: str = "$") -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string of a parsed YAML tree."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"environment variable {name} is not set (at `{path}`)")

    return _ENV.sub(replace, value)


def parse(text: str, env: Mapping[str, str] | None = None) -> Config:
    """Parse and validate YAML (or JSON, which is YAML) text into a Config."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}") from None
    return from_dict(raw if raw is not None else {}, env)


def from_dict(raw: Any, env: Mapping[str, str] | None = None) -> Config:
    if not isinstance(raw, dict):
        raise ConfigError("the configuration must be a mapping of sections")
    raw = interpolate(raw, os.environ if env is None else env)
    # Named entries are checked one by one first, so an error names the entry
    # (`$.providers.openai.type`) instead of msgspec's anonymous `$.providers[...]`.
    _check_named(raw, "providers", ProviderConfig)
    _check_named(raw, "models", ModelConfig)
    try:
        config = msgspec.convert(raw, Config, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(str(exc)) from None
    validate(config)
    return config


def _check_named(raw: dict[str, Any], section: str, kind: Any) -> None:
    entries = raw.get(section)
    if not isinstance(entries, dict):
        return
    for name, entry in entries.items():
        try:
            msgspec.convert(entry, kind, str_keys=True)
        except msgspec.ValidationError as exc:
            where = f"$.{section}.{name}"
            message = str(exc)
            if "`$" in message:
                message = message.replace("`$", f"`{where}", 1)
            else:
                message += f" - at `{where}`"
            raise ConfigError(message) from None


def load(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    return parse(text, env)


def _positive(value: float, where: str) -> None:
    if value <= 0:
        raise ConfigError(f"`{where}` must be positive, got {value}")


def validate(config: Config) -> None:
    """Cross-field checks: references resolve, numbers are in range, no fallback cycles."""
    server = config.server
    if not 0 < server.port < 65536:
        raise ConfigError(f"`$.server.port` must be a TCP port, got {server.port}")
    _positive(server.max_body_bytes, "$.server.max_body_bytes")
    _positive(server.max_output_tokens, "$.server.max_output_tokens")
    _positive(server.max_messages, "$.server.max_messages")
    _positive(server.max_inflight, "$.server.max_inflight")
    _positive(config.store.flush_interval_ms, "$.store.flush_interval_ms")
    _positive(config.store.batch_size, "$.store.batch_size")
    _positive(config.store.queue_size, "$.store.queue_size")
    if not config.store.url.startswith(("sqlite://", "postgresql://", "postgres://")):
        raise ConfigError("`$.store.url` must start with sqlite:// or postgresql://")
    for name, provider in config.providers.items():
        where = f"$.providers.{name}"
        _positive(provider.timeout_s, f"{where}.timeout_s")
        _positive(provider.connect_timeout_s, f"{where}.connect_timeout_s")
        if isinstance(provider, SimProviderConfig) and not 0 <= provider.error_rate <= 1:
            raise ConfigError(f"`{where}.error_rate` must be between 0 and 1")
    for name, model in config.models.items():
        where = f"$.models.{name}"
        if not model.deployments:
            raise ConfigError(f"`{where}.deployments` must list at least one deployment")
        for i, deployment in enumerate(model.deployments):
            if deployment.provider not in config.providers:
                raise ConfigError(
                    f"`{where}.deployments[{i}].provider` names unknown provider "
                    f"'{deployment.provider}' (known: {', '.join(sorted(config.providers))})"
                )
            _positive(deployment.weight, f"{where}.deployments[{i}].weight")
            if deployment.timeouts is not None:
                _check_timeouts(deployment.timeouts, f"{where}.deployments[{i}].timeouts")
        _check_resilience(model, where)
        for fallback in model.fallbacks:
            if fallback not in config.models:
                raise ConfigError(f"`{where}.fallbacks` names unknown model '{fallback}'")
    _check_fallback_cycles(config)


def _check_timeouts(timeouts: TimeoutsConfig, where: str) -> None:
    for field in ("first_token_s", "idle_s", "total_s"):
        _positive(getattr(timeouts, field), f"{where}.{field}")


def _check_resilience(model: ModelConfig, where: str) -> None:
    _positive(model.deadline_s, f"{where}.deadline_s")
    _check_timeouts(model.timeouts, f"{where}.timeouts")
    retry, breaker = model.retry, model.breaker
    if not 0 <= retry.attempts <= 10:
        raise ConfigError(f"`{where}.retry.attempts` must be between 0 and 10")
    _positive(retry.backoff_s, f"{where}.retry.backoff_s")
    _positive(retry.max_backoff_s, f"{where}.retry.max_backoff_s")
    _positive(breaker.consecutive_failures, f"{where}.breaker.consecutive_failures")
    _positive(breaker.window_s, f"{where}.breaker.window_s")
    _positive(breaker.cooldown_s, f"{where}.breaker.cooldown_s")
    _positive(breaker.min_requests, f"{where}.breaker.min_requests")
    if not 0 < breaker.failure_rate <= 1:
        raise ConfigError(f"`{where}.breaker.failure_rate` must be in (0, 1]")
    if model.hedge is not None:
        _positive(model.hedge.after_ms, f"{where}.hedge.after_ms")
    if model.degrade is not None:
        _positive(model.degrade.retry_after_s, f"{where}.degrade.retry_after_s")


def _check_fallback_cycles(config: Config) -> None:
    def visit(name: str, seen: tuple[str, ...]) -> None:
        if name in seen:
            cycle = " -> ".join((*seen, name))
            raise ConfigError(f"`$.models.{seen[0]}.fallbacks` form a cycle: {cycle}")
        for fallback in config.models[name].fallbacks:
            visit(fallback, (*seen, name))

    for name in config.models:
        visit(name, ())


def default_config(env: Mapping[str, str] | None = None) -> Config:
    """The embedded defaults: real providers when their keys are set, else the simulator."""
    env = os.environ if env is None else env
    providers: dict[str, Any] = {
        "sim": {"type": "sim", "ttft_ms": 120, "tokens_per_s": 120},
    }
    models: dict[str, Any] = {}
    if env.get("OPENAI_API_KEY"):
        providers["openai"] = {"type": "openai", "api_key": env["OPENAI_API_KEY"]}
        for name in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "text-embedding-3-small"):
            models[name] = {"deployments": [{"provider": "openai", "model": name}]}
    if env.get("ANTHROPIC_API_KEY"):
        providers["anthropic"] = {"type": "anthropic", "api_key": env["ANTHROPIC_API_KEY"]}
        for name in ("claude-sonnet-4-5", "claude-haiku-4-5"):
            models[name] = {"deployments": [{"provider": "anthropic", "model": name}]}
    if not models:
        for name in ("sim-small", "sim-large", "sim-embed"):
            models[name] = {"deployments": [{"provider": "sim", "model": name}]}
    return from_dict({"providers": providers, "models": models}, env)


def uses_only_simulator(config: Config) -> bool:
    return all(isinstance(p, SimProviderConfig) for p in config.providers.values())
