"""Azure OpenAI: the OpenAI adapter with Azure's URLs (one per deployment) and `api-key`."""

from __future__ import annotations

from urllib.parse import quote

from proctor.config import AzureProviderConfig
from proctor.providers.base import Deployment
from proctor.providers.openai import Endpoint, OpenAIWireProvider
from proctor.providers.profiles import Profile

# Azure takes both output-limit names and stream_options (API versions since 2024-09-01).
AZURE = Profile("azure", None, requires_api_key=True, max_tokens_field=None)


class AzureProvider(OpenAIWireProvider):
    def __init__(self, name: str, config: AzureProviderConfig) -> None:
        super().__init__(
            name,
            AZURE,
            timeout_s=config.timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            max_connections=config.max_connections,
            headers={"api-key": config.api_key, **config.headers},
        )
        self.base_url = config.base_url.rstrip("/")
        self.api_version = quote(config.api_version, safe="")

    def url(self, deployment: Deployment, endpoint: Endpoint) -> str:
        # On Azure the deployment's model name is the name of the Azure deployment.
        name = quote(deployment.model, safe="")
        return (
            f"{self.base_url}/openai/deployments/{name}/{endpoint}?api-version={self.api_version}"
        )
