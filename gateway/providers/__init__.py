"""The provider registry: adding a provider is one module, its tests, and one line here."""

import importlib
from types import ModuleType

from gateway.errors import GatewayError

PROVIDERS: dict[str, str] = {
    "openai": "gateway.providers.openai",
    "azure-openai": "gateway.providers.azure",
    "anthropic": "gateway.providers.anthropic",
    "google": "gateway.providers.gemini",
    "bedrock": "gateway.providers.bedrock",
}


def get(name: str) -> ModuleType:
    try:
        return importlib.import_module(PROVIDERS[name])
    except KeyError:
        supported = ", ".join(sorted(PROVIDERS))
        raise GatewayError(
            400,
            f"Unknown provider {name!r}. Supported providers: {supported}.",
            code="invalid_provider",
            param="x-portkey-provider",
        ) from None
