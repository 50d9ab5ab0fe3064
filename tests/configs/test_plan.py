"""gateway/configs/plan.py: inheritance, the strategies' choices, retries and their waits."""

import random

import pytest

from gateway.configs import plan
from gateway.configs.schema import Cache, Retry, Strategy, parse


def node(**fields):
    return parse({"provider": "openai", **fields})


def test_a_leaf_inherits_what_it_does_not_set():
    root = plan.inherit(
        plan.Settings(),
        parse(
            {
                "strategy": {"mode": "fallback"},
                "targets": [{"provider": "openai"}],
                "override_params": {"model": "a", "temperature": 0.1},
                "retry": {"attempts": 2},
                "cache": {"mode": "simple"},
                "request_timeout": 500,
            }
        ),
    )
    child = plan.inherit(root, node(override_params={"model": "b"}))
    assert child.override_params == {"model": "b", "temperature": 0.1}  # merged, child wins
    assert (child.retry, child.cache, child.request_timeout) == (
        Retry(2, None),
        Cache("simple", None),
        500,
    )
    own = plan.inherit(root, node(retry={"attempts": 0}, request_timeout=90, cache="simple"))
    assert own.retry == Retry(0, None) and own.request_timeout == 90
    assert root.override_params == {"model": "a", "temperature": 0.1}  # the parent untouched


def weighted(*weights):
    return [node() if w is None else node(weight=w) for w in weights]


def test_pick_weighted_splits_the_unit_interval_by_weight():
    targets = weighted(3, 1)
    assert plan.pick_weighted(targets, 0.0) == 0
    assert plan.pick_weighted(targets, 0.7499) == 0
    assert plan.pick_weighted(targets, 0.75) == 1
    assert plan.pick_weighted(targets, 0.9999999) == 1
    assert plan.pick_weighted(weighted(None, None), 0.49) == 0  # weight 1 unless set
    assert plan.pick_weighted(weighted(None, None), 0.5) == 1


def test_weight_zero_is_never_picked_while_another_has_weight():
    targets = weighted(0, 2, 0)
    assert {plan.pick_weighted(targets, d / 100) for d in range(100)} == {1}
    assert plan.pick_weighted(targets, 1.0) == 1  # a draw at the very top: the last with weight
    assert plan.pick_weighted(weighted(0, 0), 0.5) == 0  # all zero: the first


def test_pick_weighted_frequencies_follow_the_weights():
    rng = random.Random(16)
    counts = [0, 0, 0]
    for _ in range(20_000):
        counts[plan.pick_weighted(weighted(1, 2, 7), rng.random())] += 1
    for count, share in zip(counts, (0.1, 0.2, 0.7), strict=True):
        expected = 20_000 * share
        assert abs(count - expected) < 5 * (expected * (1 - share)) ** 0.5


def conditional():
    return parse(
        {
            "strategy": {
                "mode": "conditional",
                "conditions": [
                    {"query": {"metadata.plan": "paid"}, "then": "big"},
                    {"query": {"params.model": {"$in": ["gpt-4o"]}}, "then": "small"},
                ],
                "default": "small",
            },
            "targets": [
                {"provider": "openai", "name": "small"},
                {"provider": "anthropic", "name": "big"},
            ],
        }
    )


def test_pick_conditional_first_match_then_default():
    tree = conditional()
    pick = lambda ctx: plan.pick_conditional(tree.strategy, tree.targets, ctx)  # noqa: E731
    assert pick({"metadata": {"plan": "paid"}, "params": {"model": "gpt-4o"}}) == 1
    assert pick({"metadata": {"plan": "free"}, "params": {"model": "gpt-4o"}}) == 0
    assert pick({"metadata": {}, "params": {}}) == 0  # the default
    no_default = Strategy("conditional", None, tree.strategy.conditions, None)
    assert plan.pick_conditional(no_default, tree.targets, {"metadata": {}, "params": {}}) is None


def test_falls_back_on_any_failure_or_only_on_the_listed_codes():
    anything = Strategy("fallback")
    assert plan.falls_back(anything, 500) and plan.falls_back(anything, 400)
    assert plan.falls_back(anything, 408) and not plan.falls_back(anything, 200)
    listed = Strategy("fallback", (429, 503))
    assert plan.falls_back(listed, 429) and plan.falls_back(listed, 503)
    assert not plan.falls_back(listed, 500) and not plan.falls_back(listed, 400)


def test_retries_count_and_codes():
    default = Retry(2, None)
    assert plan.retries(default, 429, 0) and plan.retries(default, 503, 1)
    assert not plan.retries(default, 503, 2)  # attempts used up
    assert not plan.retries(default, 400, 0) and not plan.retries(default, 408, 0)
    assert not plan.retries(None, 500, 0) and not plan.retries(Retry(0, None), 500, 0)
    own = Retry(3, (408,))
    assert plan.retries(own, 408, 0) and not plan.retries(own, 500, 0)


@pytest.mark.parametrize("done", range(8))
def test_backoff_is_exponential_jittered_in_its_upper_half_and_capped(done):
    base, cap = 0.5, 10.0
    ceiling = min(cap, base * 2**done)
    low = plan.backoff(done, 0.0, base=base, cap=cap)
    high = plan.backoff(done, 0.999999, base=base, cap=cap)
    assert low == pytest.approx(ceiling / 2)
    assert ceiling / 2 <= high < ceiling
    for draw in (0.1, 0.5, 0.9):
        assert ceiling / 2 <= plan.backoff(done, draw, base=base, cap=cap) <= cap


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": " 1.5 "}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"x-ms-retry-after-ms": "1200"}, 1.2),
        ({"retry-after-ms": "100", "retry-after": "9"}, 0.1),  # the ms header is exact: first
        ({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),  # a date is not followed
        ({"retry-after": "-1"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after-ms": "soon", "retry-after": "3"}, 3.0),  # an invalid one is skipped
        ({}, None),
        ({"retry-after": "120"}, 120.0),  # a long wait is read as asked (the runner refuses it)
        ({"retry-after-ms": "30001"}, 30.001),
    ],
)
def test_retry_after_parsing(headers, seconds):
    assert plan.retry_after(headers) == seconds


@pytest.mark.parametrize(
    ("retry", "status", "expected"),
    [
        (None, 503, False),
        (Retry(0, None), 503, False),
        (Retry(2, None), 503, True),
        (Retry(2, None), 400, False),
        (Retry(2, (400,)), 400, True),
        (Retry(2, (400,)), 503, False),
    ],
)
def test_retryable_says_whether_a_status_is_retried_at_all(retry, status, expected):
    assert plan.retryable(retry, status) is expected


def test_custom_host_is_inherited_unless_a_child_sets_its_own():
    tree = parse(
        {
            "strategy": {"mode": "fallback"},
            "custom_host": "http://parent.example/v1",
            "targets": [
                {"provider": "openai", "api_key": "sk-a"},
                {"provider": "openai", "api_key": "sk-b", "custom_host": "http://own.example/v1"},
            ],
        }
    )
    top = plan.inherit(plan.Settings(), tree)
    first, second = (plan.inherit(top, child) for child in tree.targets)
    assert first.custom_host == "http://parent.example/v1"
    assert second.custom_host == "http://own.example/v1"
