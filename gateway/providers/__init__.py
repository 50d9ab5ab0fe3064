"""The provider registry: adding a provider is one module, its tests, and one line here.

A provider that makes images has a sibling module for the Images API (IMAGE_PROVIDERS),
pure like the chat one. It exposes NAME, ENDPOINTS (the Images API endpoints it serves),
NATIVE_STREAM (the upstream streams OpenAI's image events itself; otherwise Iris answers a
stream from the whole answer), check(job) (the model's limits: 400s before any round trip),
build_request(job, target) -> Upstream, parse_response(data, job) -> an OpenAI
ImagesResponse, parse_error(status, content), and Stream(job, max_event_bytes=) when
NATIVE_STREAM. See gateway/imagejob.py for the ImageJob they take."""

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


IMAGE_PROVIDERS: dict[str, str] = {
    "openai": "gateway.providers.openai_images",
    "azure-openai": "gateway.providers.azure_images",
    "google": "gateway.providers.gemini_images",
    "bedrock": "gateway.providers.bedrock_images",
}


def images(name: str, endpoint: str) -> ModuleType:
    """The Images API module of a provider that serves `endpoint`, or a 400 naming those
    that do."""
    get(name)  # an unknown provider gets the same error as on the chat route
    module = importlib.import_module(IMAGE_PROVIDERS[name]) if name in IMAGE_PROVIDERS else None
    if module is None or endpoint not in module.ENDPOINTS:
        able = [p for p, m in IMAGE_PROVIDERS.items() if endpoint in _endpoints(m)]
        raise GatewayError(
            400,
            f"The {name} provider has no {endpoint.replace('images.', 'image ')} endpoint. "
            f"Providers that do: {', '.join(able) or 'none'}.",
            code="unsupported_endpoint",
            param="x-portkey-provider",
        )
    return module


def _endpoints(module_name: str) -> frozenset[str]:
    try:
        return importlib.import_module(module_name).ENDPOINTS
    except ImportError:
        return frozenset()


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
