"""Gateway API keys: who is calling. Lookups are cached briefly so the proxy path rarely
touches the database; saving or deleting a key clears the cache."""

import time

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from gateway.db import orm
from gateway.errors import GatewayError
from gateway.models import KEY_PREFIX, ApiKey, hash_key

_CACHE_SECONDS = 10.0
_cache: dict[str, tuple[ApiKey | None, float]] = {}


def bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def presented_key(request: HttpRequest) -> str:
    """The gateway key: x-portkey-api-key, or a Bearer token that is one of ours."""
    if key := request.headers.get("x-portkey-api-key", "").strip():
        return key
    token = bearer_token(request)
    return token if token.startswith(KEY_PREFIX) else ""


async def check(request: HttpRequest) -> ApiKey | None:
    """The caller's active key; GatewayError(401) unless keys are optional."""
    raw = presented_key(request)
    if not raw:
        if settings.GATEWAY_REQUIRE_API_KEY:
            raise GatewayError(
                401,
                "Missing gateway API key. Send it in the x-portkey-api-key header.",
                code="missing_api_key",
            )
        return None
    key = await _lookup(hash_key(raw))
    if key is None or not key.is_active:
        if settings.GATEWAY_REQUIRE_API_KEY:
            raise GatewayError(
                401, "Invalid, expired or revoked gateway API key.", code="invalid_api_key"
            )
        return None
    return key


async def _lookup(digest: str) -> ApiKey | None:
    cached = _cache.get(digest)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    key = await orm(ApiKey.objects.filter(key_hash=digest).first)()
    _cache[digest] = (key, time.monotonic() + _CACHE_SECONDS)
    return key


@receiver(post_save, sender=ApiKey)
@receiver(post_delete, sender=ApiKey)
def _forget_cached_keys(**kwargs) -> None:
    _cache.clear()
