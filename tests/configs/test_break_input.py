"""Hostile configs, as a demanding user writes them: the header a config arrives in, odd ids,
limits on size and shape, override_params that do what the schema never checked. A docstring
that starts "Was a bug" names a bug the test reproduced before it was fixed."""

import base64
import json

import httpx
import pytest

from gateway.configs import plan, schema
from tests.configs.routing import answer, anthropic_leaf, chat, openai_leaf, user
from tests.conftest import png_bytes

PNG_URI = "data:image/png;base64," + base64.b64encode(png_bytes(size=(6, 6))).decode()

# A bug this test exposes: it fails until the bug is fixed (then drop the marker).


def error(response: httpx.Response) -> dict:
    return response.json()["error"]


def not_a_crash(response: httpx.Response) -> None:
    """A client's mistake is a 4xx naming it, never Iris's 500."""
    assert response.status_code != 500, response.text
    assert error(response)["code"] != "internal_error"


# Defences that hold -----------------------------------------------------------------------


def test_an_inline_config_over_the_byte_limit_is_a_400_before_it_is_parsed(
    routing_iris, cued_openai
):
    padding = "x" * (64 * 1024)
    config = openai_leaf(cued_openai, name=padding)
    response = chat(routing_iris, config)
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_config"
    assert "longer than" in error(response)["message"]
    assert cued_openai.cued.calls == []


def test_more_than_a_hundred_targets_is_a_400_naming_where(routing_iris, cued_openai):
    leaves = [openai_leaf(cued_openai) for _ in range(101)]
    response = chat(routing_iris, {"strategy": "fallback", "targets": leaves})
    assert response.status_code == 400
    assert "at most 100 targets" in error(response)["message"]
    assert "targets[99]" in error(response)["message"]
    assert cued_openai.cued.calls == []


def test_targets_nested_nine_levels_deep_are_a_400(routing_iris, cued_openai):
    node: dict = openai_leaf(cued_openai)
    for _ in range(8):
        node = {"strategy": "single", "targets": [node]}
    response = chat(routing_iris, node)
    assert response.status_code == 400
    assert "more than 8 levels" in error(response)["message"]


@pytest.mark.parametrize(
    "raw_weight", ["NaN", "Infinity", "-1", '"2"', "true", "1e999", "-0.5", "null"]
)
def test_a_weight_that_is_not_a_finite_number_is_refused_or_ignored(
    routing_iris, cued_openai, raw_weight
):
    leaf = json.dumps(openai_leaf(cued_openai))
    config = (
        '{"strategy": {"mode": "loadbalance"}, "targets": ['
        f'{leaf[:-1]}, "weight": {raw_weight}}}, {leaf}]}}'
    )
    response = chat(routing_iris, config)
    if raw_weight == "null":  # the default weight, 1
        assert answer(response)
        return
    assert response.status_code == 400, response.text
    assert error(response)["code"] == "invalid_config"
    assert cued_openai.cued.calls == []


@pytest.mark.parametrize(
    "ref", ["../../etc/passwd", "a" * 5000, "config with spaces", "ünïcödé", "[1, 2]", "%00"]
)
def test_a_config_id_with_odd_characters_is_a_clean_404(routing_iris, cued_openai, ref):
    headers = {**routing_iris.headers(), "x-portkey-config": ref.encode()}  # raw UTF-8 bytes
    body = {"model": "gpt-4o", "messages": user()}
    response = httpx.post(
        f"{routing_iris.url}/v1/chat/completions", headers=headers, json=body, timeout=30
    )
    assert response.status_code == 404, response.text
    assert error(response)["code"] == "config_not_found"
    assert len(error(response)["message"]) < 200  # the id is quoted cut short
    assert cued_openai.cued.calls == []


def test_a_regex_too_long_or_invalid_is_a_400_naming_the_condition(routing_iris, cued_openai):
    for pattern in ("(" * 3, "a" * 501):
        config = {
            "strategy": {
                "mode": "conditional",
                "conditions": [{"query": {"metadata.x": {"$regex": pattern}}, "then": "a"}],
            },
            "targets": [openai_leaf(cued_openai, name="a")],
        }
        response = chat(routing_iris, config)
        assert response.status_code == 400
        assert "strategy.conditions[0].query" in error(response)["message"]


def test_override_params_with_another_slug_is_still_a_route_the_key_must_allow(
    routing_iris, cued_openai
):
    """override_params.model "@slug/x" routes to that admin provider, through the same
    checks as a client's own "@slug/x": an unknown slug is a 404, never a bypass."""
    config = {"override_params": {"model": "@no-such-provider/gpt-4o"}}
    response = chat(routing_iris, config, headers={"x-portkey-provider": "openai"})
    assert response.status_code == 404
    assert error(response)["code"] == "provider_not_found"


# Bugs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["#abc", "#", "#1.5"])
def test_a_hash_config_id_is_not_found(routing_iris, cued_openai, ref):
    """Was a bug: store.for_request takes any header value that is not JSON as a saved config's
    id; "#<pk>" is the form store.py keeps for a key's default config, and _load does
    int(ref[1:]) on whatever the client sent: "#abc" raises ValueError, a 500
    internal_error. Expected: 404 config_not_found (and "#<pk>" kept out of the client's
    reach: it addresses configs by primary key, a form the admin never shows).
    gateway/configs/store.py, _load (`int(ref[1:])`) and for_request (no check of `value`)."""
    response = chat(routing_iris, ref)
    not_a_crash(response)
    assert response.status_code == 404


@pytest.mark.parametrize("model", [123, None, ["gpt-4o"], {"a": 1}, True])
def test_an_override_model_that_is_not_a_string_is_a_400(routing_iris, cued_openai, model):
    """Was a bug: override_params is checked only to be an object; a model that is not a string
    reaches targets.resolve, whose regex fullmatch raises TypeError: a 500 internal_error.
    Expected: a 400 invalid_config naming override_params.model.
    gateway/configs/schema.py, _node (override_params=_object(...), values unchecked)."""
    response = chat(routing_iris, openai_leaf(cued_openai, override_params={"model": model}))
    not_a_crash(response)
    assert response.status_code == 400
    assert "override_params" in error(response)["message"]
    assert cued_openai.cued.calls == []


def test_a_deeply_nested_and_query_is_refused_not_a_500(routing_iris, cued_openai):
    """Was a bug: schema.parse accepts a query of 480 nested $and (check_query recurses one frame
    a level), but conditions.matches recurses two frames a level (the generator in all())
    and hits Python's recursion limit on every request: RecursionError, a 500.
    Expected: a depth limit in check_query (a 400 naming the condition), or matches that
    works as deep as check_query lets through. gateway/configs/conditions.py, check_query
    and matches."""
    query = '{"metadata.tier": "gold"}'
    for _ in range(480):
        query = '{"$and": [' + query + "]}"
    leaf = json.dumps(openai_leaf(cued_openai, name="a"))
    config = (
        '{"strategy": {"mode": "conditional", "conditions": [{"query": '
        + query
        + ', "then": "a"}]}, "targets": ['
        + leaf
        + "]}"
    )
    response = chat(routing_iris, config, headers={"x-portkey-metadata": '{"tier": "gold"}'})
    not_a_crash(response)


def test_override_messages_are_refused_before_a_translating_provider(routing_iris, cued_anthropic):
    """Was a bug: override_params may replace `messages`; the attempt's body gets the new messages
    but its parsed images are still the client's (by message and part index). Anthropic's
    translator looks up the override's image part with chat.image(i, j): KeyError, a 500.
    The override's image never went through parsing or preflight either. Expected: a 400
    (override_params cannot set messages) or the overridden body parsed again.
    gateway/configs/runner.py, _with_overrides (body.update(overrides) of any key)."""
    override = {"messages": user("look", PNG_URI)}
    config = anthropic_leaf(cued_anthropic)
    config["override_params"] = {**config["override_params"], **override}
    response = chat(routing_iris, config, user("plain text, no image"))
    not_a_crash(response)


def test_override_messages_are_refused_before_an_openai_target_that_fits_images(
    routing_iris, cued_openai
):
    """Was a bug: the same, for OpenAI: the client's image is auto-fitted (converted), so
    openai.body_bytes rewrites chat.body["messages"][img.message]["content"][img.part], which
    the override's text-only messages do not have: a 500. Expected as above.
    gateway/configs/runner.py, _with_overrides; gateway/providers/openai.py, body_bytes."""
    big = png_bytes(size=(1200, 1200))
    uri = "data:image/png;base64," + base64.b64encode(big).decode()
    config = openai_leaf(cued_openai, override_params={"messages": user("text only")})
    response = chat(
        routing_iris, config, user("look", uri, detail="low"), headers={"x-iris-image-fit": "auto"}
    )
    not_a_crash(response)


def test_two_huge_weights_still_split_the_traffic():
    """Was a bug: weights are any finite number >= 0; two of 1e308 sum to infinity, the draw times
    infinity is never below a weight, and every pick falls through to the last target: the
    first gets 0% instead of 50%. Expected: weights capped in schema.py (_number), or
    normalised before summing. gateway/configs/plan.py, pick_weighted."""
    tree = schema.parse({"strategy": "loadbalance", "targets": [{"weight": 1e308}] * 2})
    picks = {plan.pick_weighted(tree.targets, draw / 100) for draw in range(100)}
    assert picks == {0, 1}
