"""Which provider, base URL and credentials a request goes to: a Provider record an admin
configured, named `@slug` (Portkey's convention), or Portkey's headers alone.

A slug comes from `x-portkey-provider: @slug`, from `x-portkey-virtual-key: slug`, or from a
model written `@slug/model-name`. The record then decides the host and the credentials; the
client may add only options that pick a deployment or an API feature, never ones that could
aim an admin's key at another host.
"""

import dataclasses
import re
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import orjson
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from yarl import URL

from gateway import auth, crypto, http, offload, providers, redact
from gateway.auth import bearer_token
from gateway.chat import Chat
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.imagejob import ImageJob
from gateway.log import Record
from gateway.models import KEY_PREFIX, SECRETS, ApiKey, Provider
from gateway.providers.base import Target

# x-portkey-* headers the core consumes itself; every other one is handed to the provider
# as an option (x-portkey-azure-deployment-id → options["azure-deployment-id"]).
_CORE_HEADERS = {"api-key", "provider", "custom-host", "trace-id", "metadata", "virtual-key"}
# What a client may add to a record's options (only where the record leaves them unset).
CLIENT_OPTIONS = {
    "azure-deployment-id",
    "azure-api-version",
    "anthropic-version",
    "anthropic-beta",
    "drop-params",  # x-portkey-drop-params: true leaves out what a provider cannot honour
}
Headers = Mapping[str, str]  # case-insensitive, as Django's request.headers
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_MODEL = re.compile(r"@([^/]*)(?:/(.*))?", re.DOTALL)  # "@slug/model" or "@slug"
_CACHE_SECONDS = 10.0  # as auth.py: disabling or editing a record reaches other workers this fast
_MAX_CACHED = 1000  # slugs are client input: unknown ones must not grow the cache forever


@dataclasses.dataclass(frozen=True)
class Route:
    """A Provider record as routing needs it; its target is decrypted once per cache period."""

    slug: str
    default_model: str
    target: Target | None  # None when disabled: nothing to decrypt


_routes: dict[str, tuple[Route | None, float]] = {}


async def with_default_model(headers: Headers, raw: bytes, error: GatewayError) -> bytes:
    """The body with the default model of the provider `@slug` in the headers, when parsing
    failed for want of a model and that provider has one; otherwise raises the error."""
    if error.param != "model" or not (slug := header_slug(headers)):
        raise error
    route = await _route(slug)
    body = orjson.loads(raw)  # valid JSON: parse_chat checks that before the model
    if route is None or not route.default_model or body.get("model") not in (None, ""):
        raise error
    body["model"] = route.default_model
    return orjson.dumps(body)


async def resolve(headers: Headers, chat: Chat | ImageJob, *, key: ApiKey | None) -> Target:
    """The Target for this request (its model renamed when routed by `@slug/model`);
    400/403/404 with a message naming what is wrong."""
    slug, model = header_slug(headers), None
    if match := _MODEL.fullmatch(chat.model):
        named = _valid_slug(match[1], "model")
        if slug and slug != named:
            raise _conflict(f"the model names @{named} but the headers name @{slug}")
        slug, model = named, match[2] or ""
    if not slug:
        auth.check_provider(key, "")
        return await _from_headers(headers)
    auth.check_provider(key, slug)  # before the lookup: a scoped key learns nothing of others
    if headers.get("x-portkey-custom-host", "").strip():
        raise _conflict("x-portkey-custom-host cannot be combined with a provider @slug")
    route = await _route(slug)
    if route is None:
        raise GatewayError(
            404,
            f"No provider @{slug} is configured in the admin.",
            code="provider_not_found",
            param="x-portkey-provider",
        )
    if route.target is None:
        raise GatewayError(
            400,
            f"The provider @{slug} is disabled in the admin.",
            code="provider_disabled",
            param="x-portkey-provider",
        )
    if model is not None:
        # The body is parsed again and written: in a thread when it is big.
        await offload.by_size(len(chat.raw), chat.set_model, model or _default_model(route))
    return _with_client_options(route.target, headers)


def header_slug(headers: Headers) -> str:
    """The slug named by `x-portkey-provider: @slug` or `x-portkey-virtual-key`, or ""."""
    named = set()
    provider = headers.get("x-portkey-provider", "").strip()
    if provider.startswith("@"):
        named.add(_valid_slug(provider[1:], "x-portkey-provider"))
    if virtual := headers.get("x-portkey-virtual-key", "").strip():
        named.add(_valid_slug(virtual.removeprefix("@"), "x-portkey-virtual-key"))
    if len(named) > 1:
        names = " and ".join(f"@{s}" for s in sorted(named))
        raise _conflict(f"x-portkey-provider and x-portkey-virtual-key name {names}")
    return named.pop() if named else ""


def target_for(provider: Provider) -> Target:
    """The Target a Provider record stands for, credentials decrypted."""
    try:
        secret = {name: provider.credential(name) for name in SECRETS}
    except crypto.DecryptionError as exc:
        raise GatewayError(
            500, f"Provider @{provider.slug}: {exc}.", code="credentials_unreadable"
        ) from None
    options = {
        "azure-resource-name": provider.azure_resource_name,
        "azure-deployment-id": provider.azure_deployment_id,
        "azure-api-version": provider.azure_api_version,
        "aws-region": provider.aws_region,
        "aws-access-key-id": secret["aws_access_key_id"],
        "aws-secret-access-key": secret["aws_secret_access_key"],
        "aws-session-token": secret["aws_session_token"],
        "drop-params": "true" if provider.drop_unsupported_params else "",
        "image-fit": "auto" if provider.fit_images else "",  # preflight.OPTION
    }
    return Target(
        provider=provider.kind,
        base_url=provider.base_url,
        base_url_trusted=bool(provider.base_url),
        api_key=secret["api_key"],
        options={name: value for name, value in options.items() if value},
        headers=dict(provider.extra_headers or {}),
        timeout=provider.timeout,
        slug=provider.slug,
    )


def scrub(error: GatewayError, record: Record, target: Target | None) -> None:
    """Mask the target's credentials in an upstream error, should a provider ever echo one
    back: the client's own key too, for it must not reach the log. Any user:password@ of a
    URL in the message goes too (a driver's or a library's error may quote one)."""
    secrets = target.secrets() if target else []
    error.message = redact.scrub_text(error.message)
    if secrets:
        error.message = crypto.mask_all(error.message, secrets)
    if record.response_body:
        try:
            body = redact.scrub_json(record.response_body)
            record.response_body = crypto.mask_all_json(body, secrets) if secrets else body
        except (RecursionError, TypeError, ValueError):  # nested too deep to walk or encode
            record.response_body = {"_degraded": "the upstream's body was nested too deep"}


async def _from_headers(headers: Headers) -> Target:
    """Portkey's headers alone: x-portkey-provider names a kind, the client brings the key."""
    name = headers.get("x-portkey-provider", "").strip()
    if not name:
        supported = ", ".join(sorted(providers.PROVIDERS))
        raise GatewayError(
            400,
            f"Missing x-portkey-provider header. Supported providers: {supported}.",
            code="missing_provider",
            param="x-portkey-provider",
        )
    providers.get(name)  # 400 for an unknown name
    base_url = _custom_host(headers)
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
    return Target(
        provider=name,
        base_url=base_url,
        api_key=_client_key(headers),
        options=_client_options(headers),
    )


def _custom_host(headers: Headers) -> str:
    """x-portkey-custom-host, or "": an http(s) URL with a host and, as an admin's base URL,
    no user:password@, query or fragment (credentials go in headers; a provider appends its
    path to this URL, which a query would swallow). 400 for anything else, before it can fail
    later as a 500 (yarl refuses a backslash in the authority, aiohttp userinfo beside an
    Authorization header). The message never quotes the URL: it may carry a secret."""
    value = headers.get("x-portkey-custom-host", "").strip()
    if not value:
        return ""
    try:
        URL(value)  # what proxy.py will parse
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise _bad_custom_host(f"it is not a valid URL ({exc})") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise _bad_custom_host("enter an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1")
    if parts.username is not None or parts.password is not None:
        raise _bad_custom_host("no user:password@ here, send credentials as headers")
    if parts.query or parts.fragment:
        raise _bad_custom_host("no ?query or #fragment here, send credentials as headers")
    return value


def _bad_custom_host(reason: str) -> GatewayError:
    return GatewayError(
        400,
        f"Invalid x-portkey-custom-host: {reason}.",
        code="invalid_custom_host",
        param="x-portkey-custom-host",
    )


def _client_key(headers: Headers) -> str:
    token = bearer_token(headers)
    return "" if token.startswith(KEY_PREFIX) else token


def _client_options(headers: Headers) -> dict[str, str]:
    options = {}
    for header, value in headers.items():
        name = header.lower()
        if name.startswith("x-portkey-") and (option := name[10:]) not in _CORE_HEADERS:
            options[option] = value
    return options


def _with_client_options(target: Target, headers: Headers) -> Target:
    """The record's target, plus what the client may add: allowed options the record leaves
    unset, and its own provider key when the record holds none."""
    extra = {
        name: value
        for name, value in _client_options(headers).items()
        if name in CLIENT_OPTIONS and name not in target.options
    }
    api_key = target.api_key or _client_key(headers)
    if not extra and api_key == target.api_key:
        return target
    return dataclasses.replace(target, options={**target.options, **extra}, api_key=api_key)


async def _route(slug: str) -> Route | None:
    cached = _routes.get(slug)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    route = await orm(_load_route)(slug)
    if len(_routes) >= _MAX_CACHED:
        _routes.clear()
    _routes[slug] = (route, time.monotonic() + _CACHE_SECONDS)
    return route


def _load_route(slug: str) -> Route | None:
    provider = Provider.objects.filter(slug=slug).first()
    if provider is None:
        return None
    target = target_for(provider) if provider.enabled else None
    return Route(slug, provider.default_model, target)


def _default_model(route: Route) -> str:
    if not route.default_model:
        raise GatewayError(
            400,
            f"The model names only @{route.slug}, which has no default model: "
            f'write "@{route.slug}/model-name".',
            code="missing_required_parameter",
            param="model",
        )
    return route.default_model


def _valid_slug(value: str, where: str) -> str:
    slug = value.strip().lower()
    if not _SLUG.fullmatch(slug):
        raise GatewayError(
            400,
            f"{where}: {value[:80]!r} is not a provider slug (lowercase letters, digits, - and _).",
            code="invalid_provider",
            param=where,
        )
    return slug


def _conflict(message: str) -> GatewayError:
    return GatewayError(400, f"Conflicting routing: {message}.", code="conflicting_provider")


@receiver(post_save, sender=Provider)
@receiver(post_delete, sender=Provider)
def _forget_cached_routes(**kwargs) -> None:
    _routes.clear()


def metadata(headers: Headers) -> dict[str, str]:
    """x-portkey-metadata: a JSON object of string values, stored with the log."""
    raw = headers.get("x-portkey-metadata", "").strip()
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
