"""How a config is walked, as pure decisions: what a leaf inherits, which child a strategy
picks, when to fall back, when and how long to wait before a retry. No I/O (runner.py acts)."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.configs import conditions
from gateway.configs.schema import Cache, Node, Retry, Strategy

RETRY_ON = (429, 500, 502, 503, 504)  # Portkey's default retry.on_status_codes
RETRY_AFTER_HEADERS = ("retry-after-ms", "x-ms-retry-after-ms", "retry-after")


@dataclass(frozen=True)
class Settings:
    """What a leaf is tried with: its own settings, else its nearest ancestor's."""

    override_params: dict = field(default_factory=dict)
    retry: Retry | None = None
    cache: Cache | None = None
    request_timeout: int | None = None  # ms
    custom_host: str = ""


def inherit(parent: Settings, node: Node) -> Settings:
    """override_params merge (the child's keys win); retry, cache, request_timeout and
    custom_host are replaced whole by a child that sets them (as Portkey's handler does)."""
    return Settings(
        override_params={**parent.override_params, **(node.override_params or {})},
        retry=node.retry or parent.retry,
        cache=node.cache or parent.cache,
        request_timeout=node.request_timeout or parent.request_timeout,
        custom_host=node.custom_host or parent.custom_host,
    )


def pick_weighted(targets: Sequence[Node], draw: float) -> int:
    """A loadbalance's choice for a draw in [0, 1): each target's chance is its weight (1
    unless set) over the sum. None of weight 0 is picked while another has weight."""
    weights = [1.0 if t.weight is None else t.weight for t in targets]
    largest = max(weights, default=0.0)
    if largest > 0:  # scaled to at most 1: weights near the float limit must not sum to inf
        weights = [w / largest for w in weights]
    total = sum(weights)
    if total <= 0:
        return 0
    point = draw * total
    for index, weight in enumerate(weights):
        if point < weight:
            return index
        point -= weight
    return max(i for i, w in enumerate(weights) if w > 0)  # a draw at the very top


def pick_conditional(strategy: Strategy, targets: Sequence[Node], context: dict) -> int | None:
    """The target named by the first condition whose query matches the request's context
    ({"metadata", "params", "url"}), else by `default`; None when neither names one."""
    names = {t.name: i for i, t in reversed(list(enumerate(targets))) if t.name}
    for condition in strategy.conditions:
        if conditions.matches(condition.query, context):
            return names.get(condition.then)
    return names.get(strategy.default) if strategy.default else None


def falls_back(strategy: Strategy, status: int) -> bool:
    """Whether a fallback moves on after an answer of this status: on any failure, or with
    on_status_codes, only on those."""
    if strategy.on_status_codes is not None:
        return status in strategy.on_status_codes
    return not 200 <= status < 300


def retryable(retry: Retry | None, status: int) -> bool:
    """Whether the leaf retries answers of this status at all."""
    if retry is None or retry.attempts <= 0:
        return False
    return status in (retry.on_status_codes or RETRY_ON)


def retries(retry: Retry | None, status: int, done: int) -> bool:
    """Whether to try the same target again after `done` retries and this status."""
    return retryable(retry, status) and retry is not None and done < retry.attempts


def backoff(done: int, draw: float, *, base: float, cap: float) -> float:
    """Seconds before retry number done+1: exponential from `base`, capped, with full jitter
    in its upper half (draw in [0, 1)) so that clients retrying together spread out."""
    ceiling = min(cap, base * 2**done)
    return ceiling * (0.5 + draw / 2)


def retry_after(headers: dict[str, str]) -> float | None:
    """The upstream's own wait, in seconds, from retry-after-ms, x-ms-retry-after-ms or
    retry-after (seconds; an HTTP date is not followed); None if absent or invalid."""
    for name in RETRY_AFTER_HEADERS:
        value = (headers.get(name) or "").strip()
        if re.fullmatch(r"\d+(\.\d+)?", value):
            return float(value) / (1 if name == "retry-after" else 1000)
    return None
