"""A routing config in Portkey's schema, parsed and validated. Pure: no Django, no I/O.

A config is a tree. A node with `targets` is a strategy (`single`, `fallback`, `loadbalance`,
`conditional`) over its children; a node without is a *leaf*: one provider (`provider`, or
`@slug` for one the admin saved, or none: the request's headers say). Settings a leaf does not
set are inherited from its ancestors (see plan.py). Every error names its path in the config
(`targets[1].retry.attempts`), as the 400 tells the client.

Unknown keys are refused, not ignored: a config that asks for something Iris does not do
(guardrails, hooks, semantic caching) must not silently do nothing.
"""

import math
from dataclasses import dataclass, field
from typing import Any

MODES = ("single", "fallback", "loadbalance", "conditional")
MAX_RETRY_ATTEMPTS = 5  # Portkey's limit
MAX_DEPTH = 8
MAX_NODES = 100
MAX_REGEXES = 16  # $regex operators in one config: each may run up to conditions.REGEX_SECONDS
MAX_CACHE_AGE = 365 * 24 * 3600  # seconds: a cache entry lives at most a year
# Provider options a target may carry, by their Portkey names, as Target.options names them.
PROVIDER_OPTIONS = {
    "resource_name": "azure-resource-name",
    "deployment_id": "azure-deployment-id",
    "api_version": "azure-api-version",
    "aws_access_key_id": "aws-access-key-id",
    "aws_secret_access_key": "aws-secret-access-key",
    "aws_session_token": "aws-session-token",
    "aws_region": "aws-region",
    "anthropic_version": "anthropic-version",
}
_NODE_KEYS = {
    "strategy",
    "targets",
    "provider",
    "virtual_key",
    "api_key",
    "custom_host",
    "override_params",
    "weight",
    "retry",
    "request_timeout",
    "cache",
    "name",
    *PROVIDER_OPTIONS,
}
_TOP_ONLY_KEYS = {"id"}  # Portkey's saved configs carry it; informational here


class ConfigError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


@dataclass(frozen=True)
class Retry:
    attempts: int
    on_status_codes: tuple[int, ...] | None  # None: the default codes (plan.RETRY_ON)
    use_retry_after_header: bool = False


@dataclass(frozen=True)
class Cache:
    mode: str  # "simple"
    max_age: int | None  # seconds; None: the setting's default


@dataclass(frozen=True)
class Condition:
    query: dict
    then: str


@dataclass(frozen=True)
class Strategy:
    mode: str
    on_status_codes: tuple[int, ...] | None = None
    conditions: tuple[Condition, ...] = ()
    default: str | None = None

    @property
    def regexes(self) -> int:
        from gateway.configs.conditions import regex_count

        return sum(regex_count(condition.query) for condition in self.conditions)


@dataclass(frozen=True)
class Node:
    strategy: Strategy | None = None
    targets: tuple["Node", ...] = ()
    provider: str = ""  # a kind ("openai") or "@slug"; "" in a leaf: from the headers
    api_key: str = field(default="", repr=False)
    custom_host: str = ""
    options: dict = field(default_factory=dict, repr=False)  # PROVIDER_OPTIONS, renamed
    override_params: dict | None = None
    weight: float | None = None
    retry: Retry | None = None
    request_timeout: int | None = None  # milliseconds
    cache: Cache | None = None
    name: str = ""

    @property
    def is_leaf(self) -> bool:
        return not self.targets

    def leaves(self) -> list["Node"]:
        if self.is_leaf:
            return [self]
        return [leaf for child in self.targets for leaf in child.leaves()]


def parse(value: Any) -> Node:
    """The config's tree; ConfigError naming the path of the first problem."""
    counter = [0]
    if not isinstance(value, dict):
        raise ConfigError("", "a config must be a JSON object")
    body = {k: v for k, v in value.items() if k not in _TOP_ONLY_KEYS}
    tree = _node(body, "", 1, counter)
    if _regexes(tree) > MAX_REGEXES:
        raise ConfigError("", f"a config may hold at most {MAX_REGEXES} $regex conditions")
    return tree


def _regexes(node: Node) -> int:
    own = node.strategy.regexes if node.strategy else 0
    return own + sum(_regexes(child) for child in node.targets)


def _node(value: Any, path: str, depth: int, counter: list[int]) -> Node:
    if not isinstance(value, dict):
        raise ConfigError(path, "a target must be a JSON object")
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise ConfigError(path, f"a config may have at most {MAX_NODES} targets in all")
    if depth > MAX_DEPTH:
        raise ConfigError(path, f"targets nest more than {MAX_DEPTH} levels deep")
    unknown = sorted(set(value) - _NODE_KEYS)
    if unknown:
        raise ConfigError(
            _at(path, unknown[0]),
            f"unknown key (Iris accepts: {', '.join(sorted(_NODE_KEYS))})",
        )
    targets = value.get("targets")
    strategy = _strategy(value.get("strategy"), _at(path, "strategy"))
    children: tuple[Node, ...] = ()
    if targets is not None:
        if not isinstance(targets, list) or not targets:
            raise ConfigError(_at(path, "targets"), "must be a non-empty array")
        if strategy is None:
            raise ConfigError(_at(path, "strategy"), "is required with targets")
        children = tuple(
            _node(t, f"{_at(path, 'targets')}[{i}]", depth + 1, counter)
            for i, t in enumerate(targets)
        )
        for leaf_key in ("provider", "virtual_key", "api_key"):  # custom_host is inherited
            if value.get(leaf_key):
                raise ConfigError(_at(path, leaf_key), "belongs in a target, not beside targets")
    elif strategy is not None:
        raise ConfigError(_at(path, "targets"), f"strategy {strategy.mode} needs targets")
    if strategy and strategy.mode == "conditional":
        _check_conditions(strategy, children, path)
    return Node(
        strategy=strategy,
        targets=children,
        provider=_provider(value, path),
        api_key=_string(value, "api_key", path),
        custom_host=_string(value, "custom_host", path),
        options={
            name: _string(value, key, path)
            for key, name in PROVIDER_OPTIONS.items()
            if value.get(key) not in (None, "")
        },
        override_params=_overrides(value, path),
        weight=_number(value, "weight", path, minimum=0),
        retry=_retry(value.get("retry"), _at(path, "retry")),
        request_timeout=_timeout(value.get("request_timeout"), _at(path, "request_timeout")),
        cache=_cache(value.get("cache"), _at(path, "cache")),
        name=_string(value, "name", path),
    )


def _strategy(value: Any, path: str) -> Strategy | None:
    if value is None:
        return None
    if isinstance(value, str):  # shorthand some write: "strategy": "fallback"
        value = {"mode": value}
    if not isinstance(value, dict):
        raise ConfigError(path, "must be an object with a mode")
    unknown = sorted(set(value) - {"mode", "on_status_codes", "conditions", "default"})
    if unknown:
        raise ConfigError(_at(path, unknown[0]), "unknown key")
    mode = value.get("mode")
    if mode not in MODES:
        raise ConfigError(_at(path, "mode"), f"must be one of {', '.join(MODES)}")
    codes = _codes(value.get("on_status_codes"), _at(path, "on_status_codes"))
    conditions = ()
    if mode == "conditional":
        raw = value.get("conditions")
        if not isinstance(raw, list) or not raw:
            raise ConfigError(_at(path, "conditions"), "conditional needs a non-empty array")
        conditions = tuple(
            _condition(c, f"{_at(path, 'conditions')}[{i}]") for i, c in enumerate(raw)
        )
    default = value.get("default")
    if default is not None and not isinstance(default, str):
        raise ConfigError(_at(path, "default"), "must be a target's name")
    return Strategy(mode, codes, conditions, default)


def _condition(value: Any, path: str) -> Condition:
    if not isinstance(value, dict) or not isinstance(value.get("query"), dict):
        raise ConfigError(path, "must be an object with a query object and then")
    if not isinstance(value.get("then"), str) or not value["then"]:
        raise ConfigError(_at(path, "then"), "must name a target")
    from gateway.configs.conditions import check_query  # the operators live with their logic

    try:
        check_query(value["query"])
    except ValueError as exc:
        raise ConfigError(_at(path, "query"), str(exc)) from None
    return Condition(value["query"], value["then"])


def _check_conditions(strategy: Strategy, targets: tuple[Node, ...], path: str) -> None:
    names = {t.name for t in targets if t.name}
    for i, condition in enumerate(strategy.conditions):
        if condition.then not in names:
            where = _at(path, f"strategy.conditions[{i}].then")
            raise ConfigError(where, f"no target is named {condition.then!r}")
    if strategy.default is not None and strategy.default not in names:
        raise ConfigError(_at(path, "strategy.default"), f"no target is named {strategy.default!r}")


def _provider(value: dict, path: str) -> str:
    provider = _string(value, "provider", path).strip()
    virtual = _string(value, "virtual_key", path).strip()
    if provider and virtual:
        raise ConfigError(_at(path, "virtual_key"), "give provider or virtual_key, not both")
    if virtual:
        return "@" + virtual.removeprefix("@")
    return provider


def _retry(value: Any, path: str) -> Retry | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(path, "must be an object")
    unknown = sorted(set(value) - {"attempts", "on_status_codes", "use_retry_after_header"})
    if unknown:
        raise ConfigError(_at(path, unknown[0]), "unknown key")
    attempts = value.get("attempts", 0)
    if not _is_int(attempts) or not 0 <= attempts <= MAX_RETRY_ATTEMPTS:
        raise ConfigError(
            _at(path, "attempts"), f"must be an integer from 0 to {MAX_RETRY_ATTEMPTS}"
        )
    use_header = value.get("use_retry_after_header", False)
    if not isinstance(use_header, bool):
        raise ConfigError(_at(path, "use_retry_after_header"), "must be true or false")
    return Retry(
        attempts, _codes(value.get("on_status_codes"), _at(path, "on_status_codes")), use_header
    )


def _cache(value: Any, path: str) -> Cache | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"mode": value}
    if not isinstance(value, dict):
        raise ConfigError(path, "must be an object")
    unknown = sorted(set(value) - {"mode", "max_age"})
    if unknown:
        raise ConfigError(_at(path, unknown[0]), "unknown key")
    mode = value.get("mode")
    if mode == "semantic":
        raise ConfigError(_at(path, "mode"), "semantic caching is not supported; use simple")
    if mode != "simple":
        raise ConfigError(_at(path, "mode"), "must be simple")
    max_age = value.get("max_age")
    if max_age is not None and (not _is_int(max_age) or not 0 < max_age <= MAX_CACHE_AGE):
        raise ConfigError(
            _at(path, "max_age"), f"must be a positive integer of seconds, at most {MAX_CACHE_AGE}"
        )
    return Cache(mode, max_age)


def _timeout(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if not _is_int(value) or value <= 0:
        raise ConfigError(path, "must be a positive integer (milliseconds)")
    return value


def _codes(value: Any, path: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(_is_int(c) and 100 <= c <= 599 for c in value):
        raise ConfigError(path, "must be an array of HTTP status codes")
    return tuple(value)


def _string(value: dict, key: str, path: str) -> str:
    item = value.get(key)
    if item is None:
        return ""
    if not isinstance(item, str):
        raise ConfigError(_at(path, key), "must be a string")
    return item


def _object(value: dict, key: str, path: str) -> dict | None:
    item = value.get(key)
    if item is not None and not isinstance(item, dict):
        raise ConfigError(_at(path, key), "must be an object")
    return item


# Parameters an override may not set: a request's messages and input carry its images, which
# are parsed, fetched and checked once per request (runner.py's attempts share them).
_NOT_OVERRIDDEN = ("messages", "input", "prompt", "image", "mask")


def _overrides(value: dict, path: str) -> dict | None:
    overrides = _object(value, "override_params", path)
    if overrides is None:
        return None
    for name in _NOT_OVERRIDDEN:
        if name in overrides:
            where = _at(path, f"override_params.{name}")
            raise ConfigError(where, "cannot be overridden (the request's images are parsed once)")
    model = overrides.get("model", "")
    if "model" in overrides and (not isinstance(model, str) or not model):
        raise ConfigError(_at(path, "override_params.model"), "must be a non-empty string")
    return overrides


def _number(value: dict, key: str, path: str, *, minimum: float) -> float | None:
    item = value.get(key)
    if item is None:
        return None
    valid = isinstance(item, int | float) and not isinstance(item, bool)
    if not valid or not math.isfinite(item) or item < minimum:  # NaN and inf: json.loads's
        raise ConfigError(_at(path, key), f"must be a finite number of at least {minimum}")
    return float(item)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
