"""Provider adapters. Built-ins register through the same call a plugin would use."""

from proctor.config import (
    AnthropicProviderConfig,
    AzureProviderConfig,
    OpenAIProviderConfig,
    SimProviderConfig,
)
from proctor.providers.anthropic import AnthropicProvider
from proctor.providers.azure import AzureProvider
from proctor.providers.base import Deployment, Provider, create, register
from proctor.providers.openai import OpenAIProvider
from proctor.providers.sim import SimProvider

register(SimProviderConfig, SimProvider)
register(AnthropicProviderConfig, AnthropicProvider)
register(OpenAIProviderConfig, OpenAIProvider)
register(AzureProviderConfig, AzureProvider)

__all__ = ["Deployment", "Provider", "create", "register"]
