"""Which provider, base URL and credentials a request goes to (Portkey's header conventions)."""

import orjson
from django.http import HttpRequest

from gateway import http, providers
from gateway.auth import bearer_token
from gateway.chat import Chat
from gateway.errors import GatewayError
from gateway.models import KEY_PREFIX
from gateway.providers.base import Target

# x-portkey-* headers the core consumes itself; every other one is handed to the provider
# as an option (x-portkey-azure-deployment-id → options["azure-deployment-id"]).
_CORE_HEADERS = {"api-key", "provider", "custom-host", "trace-id", "metadata", "virtual-key"}


async def resolve(request: HttpRequest, chat: Chat) -> Target:
    name = request.headers.get("x-portkey-provider", "").strip()
    if not name:
        supported = ", ".join(sorted(providers.PROVIDERS))
        raise GatewayError(
            400,
            f"Missing x-portkey-provider header. Supported providers: {supported}.",
            code="missing_provider",
            param="x-portkey-provider",
        )
    providers.get(name)  # 400 for an unknown name
    base_url = request.headers.get("x-portkey-custom-host", "").strip()
    if base_url:
        try:
            await http.check_url_allowed(base_url)
        except (http.BlockedAddress, http.FetchError) as exc:
            raise GatewayError(
                400,
                f"x-portkey-custom-host refused: {exc}",
                code="custom_host_refused",
                param="x-portkey-custom-host",
            ) from None
    token = bearer_token(request)
    options = {
        header[len("x-portkey-") :]: value
        for header, value in request.headers.items()
        if header.lower().startswith("x-portkey-")
        and header.lower()[len("x-portkey-") :] not in _CORE_HEADERS
    }
    return Target(
        provider=name,
        base_url=base_url,
        api_key="" if token.startswith(KEY_PREFIX) else token,
        options={k.lower(): v for k, v in options.items()},
    )


def metadata(request: HttpRequest) -> dict[str, str]:
    """x-portkey-metadata: a JSON object of string values, stored with the log."""
    raw = request.headers.get("x-portkey-metadata", "").strip()
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise GatewayError(
            400,
            "x-portkey-metadata must be a JSON object of string values.",
            code="invalid_metadata",
            param="x-portkey-metadata",
        )
    return value
