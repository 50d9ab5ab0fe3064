"""The configs bench/config_parity.py runs through Iris and Portkey's gateway, with the route
Portkey's code takes for each (read in @portkey-ai/gateway 1.15.2's build: tryTargetsRecursively,
retryRequest) and, where Iris differs on purpose, Iris's route and why.

Targets are fakes named a, b, c (OpenAI-shaped) and claude (Anthropic-shaped); a route is the
list of upstream calls as "target:model" ("a" alone: the request's model), then the status.
"""

import base64
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field

MODEL = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-5-20250929"


@dataclass(frozen=True)
class Cue:
    """What a fake answers to one call instead of its real answer: an error of `status`
    (with `headers`), or with status 200 the real answer, after `delay` seconds either way."""

    status: int = 500
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


PNG = _png()
PNG_SHA = hashlib.sha256(PNG).hexdigest()[:8]


def chat(**extra) -> dict:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 16,
        **extra,
    }


def image_chat() -> dict:
    content = [
        {"type": "text", "text": "What colour is this?"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
        },
    ]
    return chat(messages=[{"role": "user", "content": content}])


@dataclass
class Case:
    name: str
    config: Callable[[Callable[..., dict]], dict]  # given Upstreams.target
    expected: list[str]  # the calls Portkey's code makes, "target:model"
    status: int = 200
    cues: dict[str, list[Cue]] = field(default_factory=dict)
    body: dict = field(default_factory=chat)
    headers: dict = field(default_factory=dict)
    repeat: int = 1  # the same request sent this many times (the cache case)
    iris: list[str] | None = None  # Iris's route where it differs on purpose...
    iris_status: int | None = None  # ...and its final status, when that differs too...
    why: str = ""  # ...and why (or a difference in timing or headers only)
    retry_header: str | None = None  # x-portkey-retry-attempt-count both must send, if checked


def _fallback(*targets: dict, **strategy) -> dict:
    return {"strategy": {"mode": "fallback", **strategy}, "targets": list(targets)}


def _without_host(target: dict) -> dict:
    return {k: v for k, v in target.items() if k != "custom_host"}


def _retry_after(t) -> dict:
    retry = {"attempts": 1, "use_retry_after_header": True}
    return {"strategy": {"mode": "single"}, "targets": [t("a", retry=retry)]}


def _conditional(t, default: str | None = "basic") -> dict:
    conditions = [
        {"query": {"metadata.tier": {"$eq": "gold"}}, "then": "gold"},
        {"query": {"params.max_tokens": {"$gt": 100}}, "then": "long"},
    ]
    strategy = {"mode": "conditional", "conditions": conditions}
    return {
        "strategy": strategy | ({"default": default} if default else {}),
        "targets": [t("a", name="gold"), t("b", name="long"), t("c", name="basic")],
    }


CASES = [
    Case("single", lambda t: {"strategy": {"mode": "single"}, "targets": [t("a")]}, ["a"]),
    Case(
        "leaf config, retry on 429",
        lambda t: {**t("a"), "retry": {"attempts": 1}},
        ["a", "a"],
        cues={"a": [Cue(429)]},
    ),
    Case("fallback on 500", lambda t: _fallback(t("a"), t("b")), ["a", "b"], cues={"a": [Cue()]}),
    Case(
        "fallback on 400 (any failure)",
        lambda t: _fallback(t("a"), t("b")),
        ["a", "b"],
        cues={"a": [Cue(400)]},
    ),
    Case(
        "fallback on_status_codes [429], a 500",
        lambda t: _fallback(t("a"), t("b"), on_status_codes=[429]),
        ["a"],
        status=500,
        cues={"a": [Cue()]},
    ),
    Case(
        "fallback on_status_codes [500, 503], a 503",
        lambda t: _fallback(t("a"), t("b"), on_status_codes=[500, 503]),
        ["a", "b"],
        cues={"a": [Cue(503)]},
    ),
    Case(
        "retry attempts 2: 503, 503, ok",
        lambda t: {"strategy": {"mode": "single"}, "targets": [t("a", retry={"attempts": 2})]},
        ["a", "a", "a"],
        cues={"a": [Cue(503), Cue(503)]},
    ),
    Case(
        "retry use_retry_after_header, 429 retry-after 3",
        _retry_after,
        ["a", "a"],
        cues={"a": [Cue(429, {"retry-after": "3"})]},
        why=(
            "timing: Iris waits the 3 s asked; Portkey 1.15.2 waits its own 1 s backoff, "
            "because its retry-after branch sets `_timeouts` on an argument async-retry never "
            "passes (a TypeError, which async-retry retries after its backoff)"
        ),
    ),
    Case(
        "retry use_retry_after_header, 429 retry-after 120",
        _retry_after,
        ["a", "a"],
        cues={"a": [Cue(429, {"retry-after": "120"})]},
        iris=["a"],
        iris_status=429,
        why=(
            "Portkey means to stop retrying when retry-after is 60 s or more (it sets skip, "
            "hence retry-attempt-count -1) but then retries after its backoff through the same "
            "TypeError; Iris does what Portkey means: past GATEWAY_RETRY_MAX_WAIT (60 s) it "
            "does not retry and answers the 429 with retry-attempt-count -1"
        ),
    ),
    Case(
        "retry use_retry_after_header, 503 retry-after 3",
        _retry_after,
        ["a", "a"],
        cues={"a": [Cue(503, {"retry-after": "3"})]},
        why=(
            "timing: Portkey reads retry-after on a 429 only (its 1 s backoff here); Iris on "
            "any status it retries"
        ),
    ),
    Case(
        "retry exhausted, no fallback",
        lambda t: {"strategy": {"mode": "single"}, "targets": [t("a", retry={"attempts": 1})]},
        ["a", "a"],
        status=503,
        cues={"a": [Cue(503), Cue(503)]},
        retry_header="-1",  # retries ran out on a status retried on: both send -1
    ),
    Case(
        "retry exhausted then fallback",
        lambda t: _fallback(t("a", retry={"attempts": 2}), t("b")),
        ["a", "a", "a", "b"],
        cues={"a": [Cue(), Cue(), Cue()]},
    ),
    Case(
        "retry set on the fallback node, inherited",
        lambda t: {**_fallback(t("a"), t("b")), "retry": {"attempts": 1}},
        ["a", "a", "b"],
        cues={"a": [Cue(), Cue()]},
    ),
    Case(
        "loadbalance [1, 0] over a fallback",
        lambda t: {
            "strategy": {"mode": "loadbalance"},
            "targets": [{**_fallback(t("a"), t("b")), "weight": 1}, t("c", weight=0)],
        },
        ["a", "b"],
        cues={"a": [Cue()]},
    ),
    Case(
        "conditional on metadata",
        _conditional,
        ["a"],
        headers={"x-portkey-metadata": json.dumps({"tier": "gold"})},
    ),
    Case("conditional on params", _conditional, ["b"], body=chat(max_tokens=500)),
    Case("conditional default", _conditional, ["c"]),
    Case(
        "conditional, no match and no default",
        lambda t: _conditional(t, default=None),
        [],
        status=400,
        why=(
            "headers only: Portkey sends no x-portkey-* header when no target was reached; Iris "
            "sends retry-attempt-count 0 and cache-status DISABLED on every answer "
            "(gateway/service.py portkey_headers)"
        ),
    ),
    Case(
        "request_timeout 300 ms falls back",
        lambda t: _fallback(t("a", request_timeout=300), t("b")),
        ["a", "b"],
        cues={"a": [Cue(200, delay=1.5)]},
    ),
    Case(
        "request_timeout 300 ms on the fallback node, inherited",
        lambda t: {**_fallback(t("a"), t("b")), "request_timeout": 300},
        ["a", "b"],
        cues={"a": [Cue(200, delay=1.5)]},
    ),
    Case(
        "x-portkey-request-timeout header over the config's",
        lambda t: _fallback(t("a", request_timeout=60000), t("b")),
        ["a", "b"],
        cues={"a": [Cue(200, delay=1.5)]},
        headers={"x-portkey-request-timeout": "300"},
    ),
    Case(
        "custom_host on the fallback node, inherited",
        lambda t: {
            **_fallback(_without_host(t("a")), t("b")),
            "custom_host": t("a")["custom_host"],
        },
        ["a"],
    ),
    Case(
        "override_params model per target",
        lambda t: _fallback(
            t("a", override_params={"model": "gpt-4o"}),
            t("b", override_params={"model": "gpt-4.1-mini"}),
        ),
        ["a:gpt-4o", "b:gpt-4.1-mini"],
        cues={"a": [Cue()]},
    ),
    Case(
        "stream through a fallback",
        lambda t: _fallback(t("a"), t("b")),
        ["a", "b"],
        cues={"a": [Cue()]},
        body=chat(stream=True),
    ),
    Case(
        "openai -> anthropic fallback, image",
        lambda t: _fallback(t("a"), t("claude", override_params={"model": CLAUDE})),
        [f"a:{MODEL}+img:{PNG_SHA}", f"claude:{CLAUDE}+img:{PNG_SHA}"],
        cues={"a": [Cue()]},
        body=image_chat(),
    ),
    Case(
        "cache simple, same request twice",
        lambda t: {
            "cache": {"mode": "simple"},
            "strategy": {"mode": "single"},
            "targets": [t("a")],
        },
        ["a", "a"],
        repeat=2,
        iris=["a"],
        why=(
            "Portkey's open-source gateway has no cache store (its getFromCache hook is set "
            "only by the hosted gateway), so it calls the upstream twice and answers DISABLED; "
            "Iris caches, as issue 16 asks: the second request is a HIT with no upstream call."
        ),
    ),
]
for _case in CASES:  # "a" means "a:<the request's model>"
    _case.expected = [e if ":" in e else f"{e}:{_case.body['model']}" for e in _case.expected]
    if _case.iris is not None:
        _case.iris = [e if ":" in e else f"{e}:{_case.body['model']}" for e in _case.iris]


def expected(case: Case, gateway: str) -> tuple[list[str], int]:
    """The route a gateway should take: Portkey's, unless Iris differs on purpose."""
    if gateway == "Iris" and case.iris is not None:
        return case.iris, case.iris_status or case.status
    return case.expected, case.status
