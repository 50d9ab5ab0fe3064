"""gateway/configs/schema.py: Portkey's config schema parsed, every error naming its path."""

import pytest

from gateway.configs import schema
from gateway.configs.schema import ConfigError, parse


def error_of(config) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(config)
    return caught.value


def leaf(**extra) -> dict:
    return {"provider": "openai", "api_key": "sk-x", **extra}


def test_a_fallback_tree_is_parsed_with_its_settings():
    tree = parse(
        {
            "id": "pc-saved",  # Portkey's saved configs carry it: informational
            "strategy": {"mode": "fallback", "on_status_codes": [500, 429]},
            "retry": {"attempts": 2, "use_retry_after_header": True},
            "request_timeout": 1500,
            "cache": {"mode": "simple", "max_age": 60},
            "targets": [
                leaf(override_params={"model": "gpt-4o"}, weight=2),
                {"virtual_key": "claude", "resource_name": "r", "aws_region": "eu-west-1"},
            ],
        }
    )
    assert tree.strategy == schema.Strategy("fallback", (500, 429))
    assert tree.retry == schema.Retry(2, None, True)
    assert tree.request_timeout == 1500 and tree.cache == schema.Cache("simple", 60)
    first, second = tree.targets
    assert (first.provider, first.api_key, first.weight) == ("openai", "sk-x", 2.0)
    assert first.override_params == {"model": "gpt-4o"}
    assert second.provider == "@claude"
    assert second.options == {"azure-resource-name": "r", "aws-region": "eu-west-1"}
    assert [n.provider for n in tree.leaves()] == ["openai", "@claude"]


def test_shorthands_and_a_bare_leaf():
    tree = parse({"strategy": "loadbalance", "targets": [leaf()], "cache": "simple"})
    assert tree.strategy.mode == "loadbalance" and tree.cache == schema.Cache("simple", None)
    assert parse({"provider": "anthropic"}).is_leaf
    assert parse({"virtual_key": "@claude"}).provider == "@claude"


def test_the_api_key_stays_out_of_the_repr():
    assert "sk-secret" not in repr(parse(leaf(api_key="sk-secret")))


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"targets": [leaf()]}, "strategy"),
        ({"strategy": {"mode": "fallback"}}, "targets"),
        ({"strategy": {"mode": "fallback"}, "targets": []}, "targets"),
        ({"strategy": {"mode": "fallback"}, "targets": "x"}, "targets"),
        ({"strategy": {"mode": "roundrobin"}, "targets": [leaf()]}, "strategy.mode"),
        ({"strategy": 3, "targets": [leaf()]}, "strategy"),
        ({"strategy": {"mode": "single", "retry": 1}, "targets": [leaf()]}, "strategy.retry"),
        (
            {"strategy": {"mode": "fallback", "on_status_codes": [42]}, "targets": [leaf()]},
            "strategy.on_status_codes",
        ),
        (
            {"strategy": {"mode": "fallback", "on_status_codes": 500}, "targets": [leaf()]},
            "strategy.on_status_codes",
        ),
        (
            {"strategy": {"mode": "fallback"}, "targets": [leaf(), leaf(retry={"attempts": 6})]},
            "targets[1].retry.attempts",
        ),
        (
            {"strategy": {"mode": "fallback"}, "targets": [leaf(), leaf(retry={"attempts": -1})]},
            "targets[1].retry.attempts",
        ),
        ({"retry": {"attempts": True}}, "retry.attempts"),
        ({"retry": {"attempts": 1.5}}, "retry.attempts"),
        ({"retry": {"attempts": 1, "backoff": 2}}, "retry.backoff"),
        ({"retry": {"use_retry_after_header": "yes"}}, "retry.use_retry_after_header"),
        ({"retry": {"on_status_codes": ["500"]}}, "retry.on_status_codes"),
        ({"retry": 3}, "retry"),
        ({"request_timeout": 0}, "request_timeout"),
        ({"request_timeout": "100"}, "request_timeout"),
        ({"cache": {"mode": "semantic"}}, "cache.mode"),
        ({"cache": {"mode": "fuzzy"}}, "cache.mode"),
        ({"cache": {"mode": "simple", "max_age": 0}}, "cache.max_age"),
        ({"cache": {"mode": "simple", "ttl": 5}}, "cache.ttl"),
        ({"cache": 5}, "cache"),
        ({"weight": -1}, "weight"),
        ({"weight": True}, "weight"),
        ({"override_params": []}, "override_params"),
        ({"provider": 5}, "provider"),
        ({"provider": "openai", "virtual_key": "x"}, "virtual_key"),
        ({"strategy": {"mode": "fallback"}, "targets": [leaf()], "provider": "x"}, "provider"),
        ({"strategy": {"mode": "fallback"}, "targets": [leaf()], "api_key": "k"}, "api_key"),
        ({"strategy": {"mode": "fallback"}, "targets": [5]}, "targets[0]"),
        (
            {"strategy": {"mode": "fallback"}, "targets": [leaf(guardrails=[])]},
            "targets[0].guardrails",
        ),
        ({"hooks": []}, "hooks"),
        ({"resource_name": 7}, "resource_name"),
    ],
)
def test_each_error_names_its_path(config, path):
    error = error_of(config)
    assert error.path == path
    assert str(error).startswith(f"{path}: ")


def test_a_deep_path_names_every_level():
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [
            leaf(),
            {
                "strategy": {"mode": "loadbalance"},
                "targets": [leaf(), leaf(cache={"mode": "simple", "max_age": -5})],
            },
        ],
    }
    assert error_of(config).path == "targets[1].targets[1].cache.max_age"


def test_unknown_keys_are_refused_and_the_accepted_ones_listed():
    error = error_of({"provider": "openai", "semantic_cache": True})
    assert error.path == "semantic_cache" and "Iris accepts:" in str(error)
    assert "retry" in str(error)


def test_not_an_object():
    assert error_of([leaf()]).path == ""
    assert "JSON object" in str(error_of("openai"))


def test_conditional_needs_conditions_naming_targets():
    def conditional(**strategy) -> dict:
        return {
            "strategy": {"mode": "conditional", **strategy},
            "targets": [leaf(name="a"), leaf(name="b")],
        }

    assert error_of(conditional()).path == "strategy.conditions"
    assert error_of(conditional(conditions=[{"then": "a"}])).path == "strategy.conditions[0]"
    assert (
        error_of(conditional(conditions=[{"query": {}, "then": ""}])).path
        == "strategy.conditions[0].then"
    )
    assert (
        error_of(conditional(conditions=[{"query": {}, "then": "c"}])).path
        == "strategy.conditions[0].then"
    )
    bad_op = conditional(conditions=[{"query": {"metadata.x": {"$like": 1}}, "then": "a"}])
    assert error_of(bad_op).path == "strategy.conditions[0].query"
    assert "$like" in str(error_of(bad_op))
    assert error_of(conditional(conditions=[{"query": {}, "then": "a"}], default="z")).path == (
        "strategy.default"
    )
    assert error_of(conditional(conditions=[{"query": {}, "then": "a"}], default=1)).path == (
        "strategy.default"
    )
    parsed = parse(conditional(conditions=[{"query": {"metadata.x": 1}, "then": "b"}], default="a"))
    assert parsed.strategy.conditions == (schema.Condition({"metadata.x": 1}, "b"),)


def test_a_nested_conditional_path_is_named():
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [
            {
                "strategy": {"mode": "conditional", "conditions": [{"query": {}, "then": "x"}]},
                "targets": [leaf(name="a")],
            }
        ],
    }
    assert error_of(config).path == "targets[0].strategy.conditions[0].then"


def test_limits_on_depth_and_size():
    deep: dict = leaf()
    for _ in range(schema.MAX_DEPTH):
        deep = {"strategy": {"mode": "single"}, "targets": [deep]}
    error = error_of(deep)
    assert "nest more than" in str(error)
    assert error.path == ".".join(["targets[0]"] * schema.MAX_DEPTH)
    wide = {"strategy": {"mode": "loadbalance"}, "targets": [leaf()] * schema.MAX_NODES}
    assert "at most" in str(error_of(wide))  # the root counts as one of the nodes
    fits = {"strategy": {"mode": "loadbalance"}, "targets": [leaf()] * (schema.MAX_NODES - 1)}
    assert len(parse(fits).targets) == schema.MAX_NODES - 1
    assert parse({"retry": {"attempts": schema.MAX_RETRY_ATTEMPTS}}).retry.attempts == 5


def test_a_config_holds_at_most_16_regex_conditions():
    conditions = [{"query": {f"metadata.k{i}": {"$regex": "^a"}}, "then": "a"} for i in range(17)]
    config = {
        "strategy": {"mode": "conditional", "conditions": conditions},
        "targets": [{"provider": "openai", "name": "a"}],
    }
    with pytest.raises(ConfigError, match="at most 16 \\$regex"):
        parse(config)
    config["strategy"]["conditions"] = conditions[:16]
    assert parse(config).strategy.regexes == 16


@pytest.mark.parametrize("weight", [float("inf"), float("nan"), -float("inf")])
def test_weights_must_be_finite(weight):
    """json.loads (the admin's JSON field) reads Infinity and NaN; orjson (the header) does not."""
    config = {"strategy": "loadbalance", "targets": [{"weight": weight}, {}]}
    with pytest.raises(ConfigError, match=r"targets\[0\]\.weight"):
        parse(config)
