"""Which config a request runs under: `x-portkey-config` (inline JSON, or the id of a saved
config), else the gateway key's default. Parsed configs are cached: inline ones by their
text, saved ones for a few seconds (a save clears this process's copies at once)."""

import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping

import orjson
from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from gateway.configs import schema
from gateway.configs.models import Config
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.models import ApiKey

HEADER = "x-portkey-config"
INLINE = "inline"
_CACHE_SECONDS = 5.0
_MAX_CACHED = 256
_inline: OrderedDict[str, schema.Node] = OrderedDict()
# By slug, or by "#pk" for a key's default: (tree and slug, DISABLED, or None; when to look
# again).
DISABLED = "disabled"
_saved: dict[str, tuple[tuple[schema.Node, str] | str | None, float]] = {}


async def for_request(
    headers: Mapping[str, str], key: ApiKey | None, *, use_default: bool = True
) -> tuple[schema.Node, str] | None:
    """(the config's tree, its id or "inline"), or None for a request without one; the key's
    default config only when `use_default`."""
    value = headers.get(HEADER, "").strip()
    if value.startswith("{"):
        return parse_inline(value), INLINE
    if value.startswith("#"):  # "#pk" is how a key's default is looked up: not for clients
        raise not_found(value)
    if value:
        return await saved(value)
    if use_default and key is not None and key.default_config_id:
        return await saved(f"#{key.default_config_id}")
    return None


def parse_inline(value: str) -> schema.Node:
    if len(value) > settings.GATEWAY_MAX_CONFIG_BYTES:
        raise invalid(f"the config is longer than {settings.GATEWAY_MAX_CONFIG_BYTES} bytes")
    digest = hashlib.sha256(value.encode()).hexdigest()
    if (tree := _inline.get(digest)) is not None:
        _inline.move_to_end(digest)
        return tree
    try:
        tree = schema.parse(orjson.loads(value))
    except orjson.JSONDecodeError as exc:
        raise invalid(f"the config is not valid JSON ({exc})") from None
    except schema.ConfigError as exc:
        raise invalid(str(exc)) from None
    _inline[digest] = tree
    if len(_inline) > _MAX_CACHED:
        _inline.popitem(last=False)
    return tree


async def saved(ref: str) -> tuple[schema.Node, str]:
    """A saved config by its id (slug), or "#pk"; 404 if there is none, 400 if disabled."""
    cached = _saved.get(ref)
    if cached and cached[1] > time.monotonic():
        found = cached[0]
    else:
        found = await orm(_load)(ref)
        if len(_saved) >= _MAX_CACHED:
            _saved.clear()
        _saved[ref] = (found, time.monotonic() + _CACHE_SECONDS)
    if found is None:
        raise not_found(ref)
    if isinstance(found, str):  # DISABLED: a 400, as the admin's help text says
        raise GatewayError(
            400,
            f"The config {ref[:80]!r} is disabled in the admin.",
            code="config_disabled",
            param=HEADER,
        )
    return found


def not_found(ref: str) -> GatewayError:
    return GatewayError(
        404,
        f"No config {ref[:80]!r} is saved in the admin.",
        code="config_not_found",
        param=HEADER,
    )


def _load(ref: str) -> tuple[schema.Node, str] | str | None:
    where = {"pk": int(ref[1:])} if ref.startswith("#") else {"slug": ref}
    config = Config.objects.filter(**where).first()
    if config is None:
        return None
    if not config.enabled:
        return DISABLED
    try:
        return schema.parse(config.body), config.slug
    except schema.ConfigError as exc:  # saved before a rule changed: say so, as a 400 would
        raise invalid(f"the saved config {config.slug!r} is invalid: {exc}") from None


def invalid(message: str) -> GatewayError:
    return GatewayError(400, f"Invalid config: {message}.", code="invalid_config", param=HEADER)


@receiver(post_save, sender=Config)
@receiver(post_delete, sender=Config)
def _forget(**kwargs) -> None:
    _saved.clear()
