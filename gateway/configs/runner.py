"""A config run: its tree walked over the real request path, one attempt at a time.

Each attempt is a copy of the parsed request (the config's override_params applied) sent to
one leaf's target by the endpoint's own forward(); what happens is noted on the record as an
attempt. A target whose preflight refuses the request (an image too large for it, a format it
cannot take) is skipped before any round trip. Images are fetched and parsed once: the copies
share them.
"""

import asyncio
import copy
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpResponse

from gateway import log as request_log
from gateway import offload, preflight, targets
from gateway.configs import cache, plan
from gateway.configs.schema import Node
from gateway.errors import GatewayError
from gateway.models import ApiKey
from gateway.providers.base import Target

log = logging.getLogger(__name__)

# Options by which a leaf carries credentials of its own (besides api_key).
_CREDENTIAL_OPTIONS = {"aws-access-key-id", "aws-secret-access-key", "aws-session-token"}
# Request headers that route a request: a config's leaf decides these instead.
_ROUTING_HEADERS = (
    "x-portkey-provider",
    "x-portkey-virtual-key",
    "x-portkey-custom-host",
    "x-portkey-config",
)


@dataclasses.dataclass
class Run:
    """One client request under a config."""

    parsed: Any  # a Chat, a ResponsesRequest, an ImageJob
    headers: Any  # the client's, case-insensitive
    key: ApiKey | None
    record: request_log.Record
    endpoint: Any  # service.Endpoint
    prepare: Callable  # service.with_image_fit
    draw: Callable[[], float] = random.random
    last_error: GatewayError | None = None  # of the last attempt that failed
    # The images' own state before any attempt, and each kind of target's prepared copies
    # (auto-fit, conversion: see _images_for); filled by the first attempt.
    pristine: list[tuple[Any, Any]] | None = None
    prepared: dict[tuple, list[tuple[Any, Any]]] = dataclasses.field(default_factory=dict)

    @property
    def context(self) -> dict:
        """What a conditional's queries read."""
        body = self.parsed.body if isinstance(self.parsed.body, dict) else {}
        return {
            "metadata": self.record.metadata,
            "params": body,
            "url": {"pathname": self.record.path},
        }


class Failed(Exception):
    """A subtree ended without an answer: its last error; `skipped` when that target was
    never asked (its preflight refused the request), which a fallback always moves on from:
    on_status_codes names upstream answers, and there was none; `spent` when the request's
    budget of attempts is: nothing more is tried."""

    def __init__(self, error: GatewayError, *, skipped: bool = False, spent: bool = False):
        self.error = error
        self.skipped = skipped
        self.spent = spent


async def run(tree: Node, state: Run) -> HttpResponse:
    """The answer of the first target that gives one, as the strategies say; else the last
    error is raised (the record holds every attempt either way)."""
    try:
        return await _node(tree, "config", plan.Settings(), state)
    except Failed as failed:
        raise failed.error from None


async def _node(node: Node, path: str, inherited: plan.Settings, state: Run) -> HttpResponse:
    settings_ = plan.inherit(inherited, node)
    if node.is_leaf:
        return await _leaf(node, path, settings_, state)
    strategy = node.strategy
    assert strategy is not None  # schema.parse: targets come with a strategy
    children = node.targets
    if strategy.mode == "fallback":
        failed: Failed | None = None
        for index, child in enumerate(children):
            try:
                return await _node(child, f"{path}.targets[{index}]", settings_, state)
            except Failed as exc:
                failed = exc
                if exc.spent or (
                    not exc.skipped and not plan.falls_back(strategy, exc.error.status)
                ):
                    raise
        assert failed is not None
        raise failed
    if strategy.mode == "loadbalance":
        index = plan.pick_weighted(children, state.draw())
    elif strategy.mode == "conditional":
        if strategy.regexes:  # a $regex may take its whole timeout: not on the event loop
            picked = await asyncio.to_thread(
                plan.pick_conditional, strategy, children, state.context
            )
        else:
            picked = plan.pick_conditional(strategy, children, state.context)
        if picked is None:
            raise Failed(
                GatewayError(
                    400,
                    f"{path}: no condition matched the request and the strategy has no default.",
                    code="no_matching_condition",
                    param="x-portkey-config",
                )
            )
        index = picked
    else:  # single
        index = 0
    return await _node(children[index], f"{path}.targets[{index}]", settings_, state)


async def _leaf(node: Node, path: str, leaf: plan.Settings, state: Run) -> HttpResponse:
    record = state.record
    retried = 0
    while True:
        if len(record.attempts) >= settings.GATEWAY_MAX_ATTEMPTS and record.attempts:
            # One request costs at most this many attempts, whatever its config: 99 leaves
            # with 5 retries each would otherwise be 594 upstream calls and hours of waits.
            record.attempts[-1]["exhausted"] = True
            raise Failed(state.last_error or _spent(), spent=True)
        attempt = {
            "target": path,
            "retry": retried,
            "fell_back": bool(record.attempts) and not retried,
        }
        record.attempts.append(attempt)
        started = time.perf_counter()
        try:
            response = await _try(node, path, leaf, state, attempt)
        except asyncio.CancelledError:  # the client hung up: the attempt says so, the run ends
            attempt.setdefault("error", "the client went away")
            raise
        except GatewayError as error:
            attempt["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
            attempt["status"] = error.status
            attempt["error"] = error.message[:500]
            state.last_error = error
            if attempt.get("skipped"):
                raise Failed(error, skipped=True) from None
            wait = _wait(leaf, error, retried, state)
            if wait is None or not plan.retries(leaf.retry, error.status, retried):
                # Retries spent, or the upstream asks for a longer wait than Iris allows: the
                # client is told -1 retries, as Portkey tells it (x-portkey-retry-attempt-count).
                attempt["exhausted"] = plan.retryable(leaf.retry, error.status)
                raise Failed(error) from None
            try:
                await asyncio.sleep(wait)
            except asyncio.CancelledError:
                attempt["error"] += " (the client went away before the retry)"
                raise
            retried += 1
            continue
        attempt["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        attempt["status"] = response.status_code
        return response


async def _try(
    node: Node, path: str, leaf: plan.Settings, state: Run, attempt: dict
) -> HttpResponse:
    """One attempt at one target; GatewayError if it fails (attempt["skipped"] says why when
    it never reached the upstream)."""
    record = state.record
    parsed = await _with_overrides(state.parsed, leaf.override_params)
    try:
        routing = _leaf_headers(state.headers, node, leaf.custom_host)
        target = await targets.resolve(routing, parsed, key=state.key)
    except GatewayError as error:
        attempt["skipped"] = f"routing: {error.message}"
        raise
    target = _with_leaf_options(target, node)
    target = await state.prepare(state.headers, target, parsed)
    prepared_for = _images_for(state, target, parsed)
    attempt.update(provider=target.provider, slug=target.slug, model=parsed.model)
    record.provider, record.provider_slug, record.model = target.provider, target.slug, parsed.model
    record.chat = parsed
    # What an earlier attempt left: its upstream, its time to first byte (the answer's must
    # be logged, not a failed attempt's), its error body (not the body of a later failure).
    record.upstream_url, record.ttft_ms, record.response_body = "", None, None
    entry = None
    if leaf.cache is not None:
        entry = await cache.lookup(leaf.cache, target, parsed, state)
        if entry.response is not None:
            attempt["cache"] = record.cache_status = "HIT"
            return entry.response
        attempt["cache"] = record.cache_status = entry.status
    timeout = _request_timeout(state.headers) or leaf.request_timeout
    try:
        if timeout:
            async with asyncio.timeout(timeout / 1000):
                response = await state.endpoint.forward(parsed, target, record)
        else:
            response = await state.endpoint.forward(parsed, target, record)
    except TimeoutError:
        raise _timed_out(timeout) from None
    except GatewayError as error:
        targets.scrub(error, record, target)  # first: the attempt keeps the scrubbed text
        if not record.upstream_url:  # refused before any round trip: preflight, translation
            attempt["skipped"] = error.message[:500]
        raise
    finally:
        state.prepared[prepared_for] = _image_state(parsed)
    if entry is not None:
        return cache.keep(entry, response, record)
    return response


async def _with_overrides(parsed: Any, overrides: dict) -> Any:
    """A copy of the request for one attempt: override_params merged into its body (and its
    raw bytes, which OpenAI-shaped providers send as they are). The copy shares the images."""
    attempt = copy.copy(parsed)
    attempt.body = dict(parsed.body)
    if not overrides:
        return attempt
    if getattr(parsed, "multipart", False):
        if set(overrides) - {"model"}:
            raise GatewayError(
                400,
                "override_params can set only the model of a multipart request.",
                code="invalid_config",
                param="x-portkey-config",
            )
        attempt.set_model(overrides["model"])
        return attempt
    attempt.body.update(overrides)

    def merged() -> bytes:
        body = orjson.loads(parsed.raw)
        body.update(overrides)
        return orjson.dumps(body)

    if parsed.raw:
        attempt.raw = await offload.by_size(len(parsed.raw), merged)
    return attempt


def _images_for(state: Run, target: Target, parsed: Any) -> tuple:
    """Set the images as this kind of target has them: the copies an earlier attempt at the
    same kind made (a retry converts no format again), else the images as the client sent them.
    An attempt at another provider must not send the copy auto-fit or a conversion made for
    the one before (a 512 px fit for OpenAI's detail low is not what Anthropic should see).
    Fetched URL bytes stay: an image is fetched once per request."""
    kind = (target.provider, parsed.model, target.options.get(preflight.OPTION))
    images = getattr(parsed, "images", None) or []
    if state.pristine is None:
        state.pristine = _image_state(parsed)
    saved = state.prepared.get(kind, state.pristine)
    for img, (converted, size) in zip(images, saved, strict=True):
        img.converted, img.converted_size = converted, size
    return kind


def _image_state(parsed: Any) -> list[tuple[Any, Any]]:
    return [(img.converted, img.converted_size) for img in getattr(parsed, "images", None) or []]


def _leaf_headers(headers: Any, node: Node, custom_host: str) -> dict[str, str]:
    """The headers targets.resolve routes by: the client's, with the leaf's routing instead
    of the client's when the leaf names a provider (its custom_host its own or inherited).

    A leaf that carries credentials (an api_key, AWS keys) decides where they go: the client
    may not aim them elsewhere, neither with x-portkey-custom-host (which wins in Portkey, and
    there would hand a saved config's key to any host a client names) nor with the provider
    options that choose a host (an Azure resource, an AWS region). Without credentials in the
    leaf, the provider key is the client's own, and so may be its host."""
    if not node.provider:
        return headers
    credentialed = bool(node.api_key or set(node.options) & _CREDENTIAL_OPTIONS)
    routed = {
        k.lower(): v
        for k, v in headers.items()
        if k.lower() not in _ROUTING_HEADERS and not (credentialed and _picks_host(k.lower()))
    }
    routed["x-portkey-provider"] = node.provider
    if node.api_key:
        routed["authorization"] = f"Bearer {node.api_key}"
    client_host = "" if credentialed else headers.get("x-portkey-custom-host", "").strip()
    host = client_host or custom_host
    if host and not node.provider.startswith("@"):  # an admin's record decides its own host
        routed["x-portkey-custom-host"] = host
    return routed


def _picks_host(header: str) -> bool:
    """A client's x-portkey-* option that could aim a leaf's credentials at another host:
    any but those that only pick a deployment or an API feature (targets.py allows the same
    over an admin's record)."""
    name = header.removeprefix("x-portkey-")
    return header.startswith("x-portkey-") and name not in targets.CLIENT_OPTIONS | {
        "trace-id",
        "metadata",
        "api-key",
        "request-timeout",
        "cache-force-refresh",
        "cache-namespace",
    }


def _with_leaf_options(target: Target, node: Node) -> Target:
    """A leaf's provider options (an Azure deployment, AWS keys) over what the target has; an
    admin's saved record keeps its own."""
    if not node.options:
        return target
    extra = {k: v for k, v in node.options.items() if not (target.slug and k in target.options)}
    return dataclasses.replace(target, options={**target.options, **extra})


def _wait(leaf: plan.Settings, error: GatewayError, done: int, state: Run) -> float | None:
    """Seconds before the next retry: the upstream's retry-after when the config follows it
    (None when that is over GATEWAY_RETRY_MAX_WAIT: not retried, as Portkey means to past its
    60 s), else exponential backoff with jitter."""
    cap = settings.GATEWAY_RETRY_MAX_WAIT
    if leaf.retry and leaf.retry.use_retry_after_header:
        asked = plan.retry_after(error.upstream_headers)
        if asked is not None:
            return asked if asked <= cap else None
    return plan.backoff(done, state.draw(), base=settings.GATEWAY_RETRY_BASE_WAIT, cap=cap)


def _request_timeout(headers: Any) -> int | None:
    """x-portkey-request-timeout (ms), which wins over the config's, as in Portkey."""
    value = headers.get("x-portkey-request-timeout", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def _spent() -> GatewayError:
    limit = settings.GATEWAY_MAX_ATTEMPTS
    return GatewayError(502, f"No answer within {limit} attempts (GATEWAY_MAX_ATTEMPTS).")


def _timed_out(ms: int | None) -> GatewayError:
    return GatewayError(
        408,
        f"Request exceeded the config's request_timeout of {ms} ms.",
        type="timeout_error",
        code="request_timeout",
    )
