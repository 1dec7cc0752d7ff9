from __future__ import annotations

from pathlib import Path

import pytest

from proctor import config as config_mod
from proctor.config import ConfigError, SimProviderConfig

VALID = """
server: {port: 9000}
providers:
  sim: {type: sim, seed: 3}
  openai: {type: openai, api_key: "${OPENAI_KEY}", base_url: "${BASE:-https://api.openai.com/v1}"}
models:
  chat:
    deployments:
      - {provider: openai, model: gpt-4o, weight: 3}
      - {provider: sim, model: small}
    fallbacks: [backup]
  backup:
    deployments: [{provider: sim, model: large}]
"""


def test_valid_config_parses_with_interpolation() -> None:
    config = config_mod.parse(VALID, env={"OPENAI_KEY": "sk-1"})
    assert config.server.port == 9000
    openai = config.providers["openai"]
    assert openai.api_key == "sk-1"  # type: ignore[union-attr]
    assert openai.base_url == "https://api.openai.com/v1"  # type: ignore[union-attr]
    assert isinstance(config.providers["sim"], SimProviderConfig)
    assert config.models["chat"].fallbacks == ("backup",)
    assert config.models["chat"].deployments[0].weight == 3


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        (VALID, {}, "OPENAI_KEY is not set (at `$.providers.openai.api_key`)"),
        ("server: {port: 'x'}", {}, "$.server.port"),
        ("server: {prot: 1}", {}, "unknown field `prot`"),
        ("cache: {enabled: true}", {}, "unknown field `cache`"),
        ("providers: {p: {type: nope}}", {}, "$.providers.p.type"),
        ("providers: {p: {type: azure}}", {}, "api_key"),
        (
            "providers: {s: {type: sim}}\nmodels: {m: {deployments: [{provider: x, model: y}]}}",
            {},
            "`$.models.m.deployments[0].provider` names unknown provider 'x'",
        ),
        (
            "providers: {s: {type: sim}}\nmodels: {m: {deployments: []}}",
            {},
            "`$.models.m.deployments` must list at least one",
        ),
        (
            "providers: {s: {type: sim}}\nmodels:\n"
            "  a: {deployments: [{provider: s, model: x}], fallbacks: [b]}\n"
            "  b: {deployments: [{provider: s, model: x}], fallbacks: [a]}",
            {},
            "cycle",
        ),
        ("providers: {s: {type: sim, error_rate: 2}}", {}, "error_rate"),
        ("server: {max_body_bytes: -1}", {}, "$.server.max_body_bytes"),
        ("store: {url: 'mysql://x'}", {}, "$.store.url"),
        ("[1, 2]", {}, "mapping of sections"),
        ("budgets: [{scope: user, limit_usd: -5}]", {}, "`$.budgets[0].limit_usd` must be"),
        ("budgets: [{scope: user, limit_usd: 5, alerts: [1.5]}]", {}, "$.budgets[0].alerts"),
        ("budgets: [{scope: planet, limit_usd: 5}]", {}, "$.budgets[0].scope"),
        ("limits: [{scope: key, rpm: 0}]", {}, "`$.limits[0].rpm` must be a positive"),
        ("limits: [{scope: key, tpm: 1e12}]", {}, "$.limits[0].tpm"),
        ("limits: [{scope: key}]", {}, "sets neither rpm nor tpm"),
        ("pricing: {m: {input: -1, output: 2}}", {}, "`$.pricing.m.input` must be a price"),
        ("keys: {refresh_s: 0}", {}, "$.keys.refresh_s"),
        ("redis: {url: 'http://x'}", {}, "$.redis.url"),
        ("a: [", {}, "not valid YAML"),
    ],
)
def test_invalid_config_names_the_key(text: str, env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_mod.parse(text, env=env)
    assert expected in str(caught.value)


def test_default_config_uses_simulator_without_keys() -> None:
    config = config_mod.default_config(env={})
    assert config_mod.uses_only_simulator(config)
    assert "sim-small" in config.models


def test_default_config_uses_real_providers_when_keys_are_set() -> None:
    config = config_mod.default_config(env={"OPENAI_API_KEY": "sk", "ANTHROPIC_API_KEY": "ak"})
    assert not config_mod.uses_only_simulator(config)
    assert config.models["gpt-4o-mini"].deployments[0].provider == "openai"
    assert config.models["claude-haiku-4-5"].deployments[0].provider == "anthropic"


def test_load_reports_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        config_mod.load(tmp_path / "missing.yaml")


def test_unknown_field_in_a_named_entry_names_the_entry() -> None:
    with pytest.raises(ConfigError) as caught:
        config_mod.parse("providers: {p: {type: sim, foo: 1}}")
    assert "unknown field `foo`" in str(caught.value)
    assert "$.providers.p" in str(caught.value)


def test_environment_values_fill_numbers_and_empty_uses_the_default() -> None:
    config = config_mod.parse(
        "server: {port: '${PORT}', host: '${HOST:-127.0.0.1}'}", env={"PORT": "9100", "HOST": ""}
    )
    assert config.server.port == 9100
    assert config.server.host == "127.0.0.1"


def test_postgres_store_is_refused_until_it_exists() -> None:
    with pytest.raises(ConfigError, match="PostgreSQL store is not available"):
        config_mod.parse("store: {url: 'postgresql://x/y'}")
