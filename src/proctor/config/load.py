"""Loading: YAML text -> ${ENV} interpolation -> typed Config -> cross-field checks."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from proctor.config.checks import validate
from proctor.config.schema import (
    Config,
    ConfigError,
    ModelConfig,
    ProviderConfig,
    SimProviderConfig,
)

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
        value = env.get(name)
        if default is not None and not value:  # like the shell: unset or empty
            return default
        if value is not None:
            return value
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
        # strict=False lets "8787" from ${PORT} become a number where one is expected.
        config = msgspec.convert(raw, Config, str_keys=True, strict=False)
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
            msgspec.convert(entry, kind, str_keys=True, strict=False)
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
    providers = config.providers.values()
    return bool(providers) and all(isinstance(p, SimProviderConfig) for p in providers)
