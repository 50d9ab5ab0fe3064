"""The provider registry: adding a provider is one module, its tests, and one line here."""

from types import ModuleType

from gateway.errors import GatewayError
from gateway.providers import openai

PROVIDERS: dict[str, ModuleType] = {
    "openai": openai,
}


def get(name: str) -> ModuleType:
    try:
        return PROVIDERS[name]
    except KeyError:
        supported = ", ".join(sorted(PROVIDERS))
        raise GatewayError(
            400,
            f"Unknown provider {name!r}. Supported providers: {supported}.",
            code="invalid_provider",
            param="x-portkey-provider",
        ) from None
