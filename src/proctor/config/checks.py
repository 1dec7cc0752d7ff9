"""Cross-field checks: references resolve, numbers are in range, no fallback cycles."""

from __future__ import annotations

import re

from proctor.config.alert_checks import check_alerts
from proctor.config.guards import check_guards
from proctor.config.schema import (
    Config,
    ConfigError,
    ModelConfig,
    SimProviderConfig,
    TimeoutsConfig,
)
from proctor.config.telemetry import check_telemetry
from proctor.config.topics import check_topics

# A browser Origin: scheme, host (name or [IPv6]) and optional port; never a path.
_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(:[0-9]{1,5})?")


def _positive(value: float, where: str) -> None:
    if value <= 0:
        raise ConfigError(f"`{where}` must be positive, got {value}")


def validate(config: Config) -> None:
    """Cross-field checks: references resolve, numbers are in range, no fallback cycles."""
    _check_server_and_store(config)
    _check_providers(config)
    _check_models(config)
    _check_fallback_cycles(config)
    _check_costs(config)
    if config.drills.every_s is not None:
        _positive(config.drills.every_s, "$.drills.every_s")
    _positive(config.drills.max_tokens, "$.drills.max_tokens")
    check_alerts(config.alerts)
    _check_feedback(config)
    if (problem := check_telemetry(config.telemetry)) is not None:
        raise ConfigError(problem)
    if (problem := check_topics(config.topics)) is not None:
        raise ConfigError(problem)
    if (problem := check_guards(config.guards, config.models)) is not None:
        raise ConfigError(problem)


def _check_feedback(config: Config) -> None:
    feedback = config.feedback
    if feedback.secret is not None and len(feedback.secret) < 16:
        raise ConfigError("`$.feedback.secret` must be at least 16 characters when set")
    for i, origin in enumerate(feedback.allowed_origins):
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ConfigError(
                f'`$.feedback.allowed_origins[{i}]` must be "*" or an origin like '
                f"https://app.example.com (scheme, host, optional port; no path), got {origin!r}"
            )
    if not -1 < feedback.negative_below <= 1:
        raise ConfigError("`$.feedback.negative_below` must be in (-1, 1]")
    _positive(feedback.max_changes, "$.feedback.max_changes")
    _positive(feedback.recent_requests, "$.feedback.recent_requests")


def _check_costs(config: Config) -> None:
    _check_prices(config)
    _check_budgets_and_limits(config)
    _positive(config.keys.refresh_s, "$.keys.refresh_s")
    _positive(config.keys.default_max_tokens, "$.keys.default_max_tokens")
    if config.redis.url is not None and not config.redis.url.startswith(
        ("redis://", "rediss://", "unix://")
    ):
        raise ConfigError("`$.redis.url` must start with redis://, rediss:// or unix://")


def _check_prices(config: Config) -> None:
    for name, price in config.pricing.items():
        for field in ("input", "output", "cached_input", "cache_write", "reasoning"):
            value = getattr(price, field)
            if value is not None and not 0 <= value < 1e6:
                raise ConfigError(
                    f"`$.pricing.{name}.{field}` must be a price in USD per million tokens "
                    f"(0 or more), got {value}"
                )


def _check_budgets_and_limits(config: Config) -> None:
    for i, budget in enumerate(config.budgets):
        where = f"$.budgets[{i}]"
        if not 0 < budget.limit_usd < 1e9:
            raise ConfigError(f"`{where}.limit_usd` must be positive, got {budget.limit_usd}")
        for fraction in budget.alerts:
            if not 0 < fraction <= 1:
                raise ConfigError(f"`{where}.alerts` must be fractions in (0, 1], got {fraction}")
    for i, limit in enumerate(config.limits):
        where = f"$.limits[{i}]"
        if limit.rpm is None and limit.tpm is None:
            raise ConfigError(f"`{where}` sets neither rpm nor tpm")
        for field in ("rpm", "tpm"):
            value = getattr(limit, field)
            if value is not None and not 0 < value < 2**31:
                raise ConfigError(f"`{where}.{field}` must be a positive count, got {value}")


def _check_server_and_store(config: Config) -> None:
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
    if not config.store.url.startswith("sqlite://"):
        # The PostgreSQL store comes with the scale-out work; until then say so at load.
        raise ConfigError(
            "`$.store.url` must start with sqlite:// (the PostgreSQL store is not "
            "available in this version)"
        )


def _check_providers(config: Config) -> None:
    for name, provider in config.providers.items():
        where = f"$.providers.{name}"
        _positive(provider.timeout_s, f"{where}.timeout_s")
        _positive(provider.connect_timeout_s, f"{where}.connect_timeout_s")
        if isinstance(provider, SimProviderConfig) and not 0 <= provider.error_rate <= 1:
            raise ConfigError(f"`{where}.error_rate` must be between 0 and 1")


def _check_models(config: Config) -> None:
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
            if deployment.probe is not None:
                _positive(deployment.probe.every_s, f"{where}.deployments[{i}].probe.every_s")
            if deployment.timeouts is not None:
                _check_timeouts(deployment.timeouts, f"{where}.deployments[{i}].timeouts")
        _check_resilience(model, where)
        for fallback in model.fallbacks:
            if fallback not in config.models:
                raise ConfigError(f"`{where}.fallbacks` names unknown model '{fallback}'")


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
