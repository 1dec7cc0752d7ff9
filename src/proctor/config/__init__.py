"""Typed configuration: YAML with ${ENV} interpolation, validated into frozen structs.

Every error names the key it is about (`$.models.chat.deployments[0].provider`), so a bad
edit is rejected with a message that says where to look. Sections arrive here as the issues
that fill them land; an unknown section is an error, never silently ignored.

schema.py holds the structs, load.py turns text into a Config, checks.py the cross-field
rules.
"""

from proctor.config.checks import validate
from proctor.config.load import (
    default_config,
    from_dict,
    interpolate,
    load,
    parse,
    uses_only_simulator,
)
from proctor.config.schema import (
    DEFAULT_TRIGGERS,
    AnthropicProviderConfig,
    AzureProviderConfig,
    BreakerConfig,
    BudgetConfig,
    Config,
    ConfigError,
    DegradeConfig,
    DeploymentConfig,
    DrillsConfig,
    HedgeConfig,
    KeysConfig,
    ModelConfig,
    OpenAIProviderConfig,
    Period,
    PriceConfig,
    ProbeConfig,
    ProfileName,
    ProviderConfig,
    RateLimitConfig,
    RedisConfig,
    RetryConfig,
    Scope,
    ServerConfig,
    SimErrorKind,
    SimProviderConfig,
    StoreConfig,
    Strategy,
    TimeoutsConfig,
    Trigger,
)

__all__ = [
    "DEFAULT_TRIGGERS",
    "AnthropicProviderConfig",
    "AzureProviderConfig",
    "BreakerConfig",
    "BudgetConfig",
    "Config",
    "ConfigError",
    "DegradeConfig",
    "DeploymentConfig",
    "DrillsConfig",
    "HedgeConfig",
    "KeysConfig",
    "ModelConfig",
    "OpenAIProviderConfig",
    "Period",
    "PriceConfig",
    "ProbeConfig",
    "ProfileName",
    "ProviderConfig",
    "RateLimitConfig",
    "RedisConfig",
    "RetryConfig",
    "Scope",
    "ServerConfig",
    "SimErrorKind",
    "SimProviderConfig",
    "StoreConfig",
    "Strategy",
    "TimeoutsConfig",
    "Trigger",
    "default_config",
    "from_dict",
    "interpolate",
    "load",
    "parse",
    "uses_only_simulator",
    "validate",
]
