"""Provider adapters. Built-ins register through the same call a plugin would use."""

from proctor.config import SimProviderConfig
from proctor.providers.base import Deployment, Provider, create, register
from proctor.providers.sim import SimProvider

register(SimProviderConfig, SimProvider)

__all__ = ["Deployment", "Provider", "create", "register"]
