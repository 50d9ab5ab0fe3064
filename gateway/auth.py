"""Gateway API keys: who is calling, and what they may do. Lookups are cached briefly so the
proxy path rarely touches the database; saving or deleting a key clears the cache of this
process (other worker processes see a change within _CACHE_SECONDS)."""

import time
from collections.abc import Mapping

from django.conf import settings
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from gateway.db import orm
from gateway.errors import GatewayError
from gateway.models import KEY_PREFIX, ApiKey, Provider, hash_key

_CACHE_SECONDS = 10.0
_cache: dict[str, tuple[ApiKey | None, float]] = {}
_MAX_CACHED = 1000


def bearer_token(headers: Mapping[str, str]) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def presented_key(headers: Mapping[str, str]) -> str:
    """The gateway key: x-portkey-api-key, or a Bearer token that is one of ours."""
    if key := headers.get("x-portkey-api-key", "").strip():
        return key
    token = bearer_token(headers)
    return token if token.startswith(KEY_PREFIX) else ""


async def check(headers: Mapping[str, str], *, read_logs: bool = False) -> ApiKey | None:
    """The caller's active key (by the request's headers); GatewayError(401) unless keys are
    optional, 403 when read_logs and the key may not read the logs API."""
    raw = presented_key(headers)
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
    if read_logs and not key.can_read_logs:
        raise GatewayError(
            403,
            f"The gateway API key {key.name!r} may not read the logs API.",
            code="logs_not_allowed",
        )
    return key


def check_provider(key: ApiKey | None, slug: str) -> None:
    """403 unless the key may use the provider `@slug` ("" = routed by headers alone)."""
    if key is None or not key.allowed_slugs or slug in key.allowed_slugs:
        return
    allowed = ", ".join(f"@{s}" for s in sorted(key.allowed_slugs))
    what = f"the provider @{slug}" if slug else "providers named by headers"
    raise GatewayError(
        403,
        f"The gateway API key {key.name!r} may not use {what}; it may use: {allowed}.",
        code="provider_not_allowed",
        param="x-portkey-provider",
    )


async def _lookup(digest: str) -> ApiKey | None:
    cached = _cache.get(digest)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    key = await orm(_fetch)(digest)
    if len(_cache) >= _MAX_CACHED:  # keys are client input: wrong ones must not pile up
        _cache.clear()
    _cache[digest] = (key, time.monotonic() + _CACHE_SECONDS)
    return key


def _fetch(digest: str) -> ApiKey | None:
    key = ApiKey.objects.filter(key_hash=digest).prefetch_related("providers").first()
    if key is not None:
        key.allowed_slugs  # noqa: B018 - computed here, in a sync thread, then cached
    return key


@receiver(post_save, sender=ApiKey)
@receiver(post_delete, sender=ApiKey)
@receiver(m2m_changed, sender=ApiKey.providers.through)
@receiver(post_save, sender=Provider)  # a renamed slug changes what keys may use
@receiver(post_delete, sender=Provider)
def _forget_cached_keys(**kwargs) -> None:
    _cache.clear()
