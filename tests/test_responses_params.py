"""Responses API parameters on the translated routes (gateway/responses/translate.py), as chat
takes them: max_tool_calls refused unless dropped (then recorded), safety_identifier and the
prompt cache hints passed to the chat translator, function tools strict unless strict: false,
and each chat translator then honouring, refusing or recording what it was given."""

import json

import pytest

from gateway.chat import parse_chat
from gateway.errors import GatewayError
from gateway.providers import anthropic, gemini
from gateway.providers.base import Target
from gateway.responses import translate
from gateway.responses.request import parse_request

TOOL = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}


def plan_of(provider: str = "anthropic", drop: bool = False, **body) -> translate.ChatPlan:
    request = parse_request(json.dumps({"model": "m", "input": "hi", **body}).encode())
    return translate.to_chat(request, provider, takes_reasoning=True, drop=drop)


def test_max_tool_calls_is_refused_naming_it():
    with pytest.raises(GatewayError) as caught:
        plan_of(max_tool_calls=2)
    error = caught.value
    assert (error.status, error.param, error.code) == (
        400,
        "max_tool_calls",
        "unsupported_parameter",
    )
    assert "'max_tool_calls'" in error.message


def test_max_tool_calls_is_recorded_when_the_client_opts_into_dropping():
    plan = plan_of(drop=True, max_tool_calls=2)
    assert plan.dropped == ["max_tool_calls"] and "max_tool_calls" not in plan.body
    plan = plan_of(max_tool_calls=2, drop_params=True)
    assert plan.dropped == ["max_tool_calls"] and plan.body["drop_params"] is True
    assert plan_of(max_tool_calls=None).dropped == []  # null: not set


def test_user_safety_identifier_cache_hints_and_tier_go_to_the_chat_body():
    plan = plan_of(
        user="u-1",
        safety_identifier="h-1",
        prompt_cache_key="k",
        prompt_cache_retention="24h",
        parallel_tool_calls=False,
        service_tier="flex",
    )
    for name, value in [
        ("user", "u-1"),
        ("safety_identifier", "h-1"),
        ("prompt_cache_key", "k"),
        ("prompt_cache_retention", "24h"),
        ("parallel_tool_calls", False),
        ("service_tier", "flex"),
    ]:
        assert plan.body[name] == value
    assert plan.dropped == []


@pytest.mark.parametrize(("given", "sent"), [(None, True), (True, True), (False, False)])
def test_function_tools_are_strict_unless_strict_is_false(given, sent):
    tool = TOOL if given is None else {**TOOL, "strict": given}
    assert plan_of(tools=[tool]).body["tools"][0]["function"]["strict"] is sent


def built(plan: translate.ChatPlan, module, target: Target):
    chat = parse_chat(json.dumps(plan.body).encode())
    return module.build_request(chat, target)


def test_on_the_google_route_the_chat_translator_records_or_refuses_them():
    target = Target(provider="google", api_key="AIza-test")
    plan = plan_of("google", safety_identifier="h-1", prompt_cache_key="k", tools=[TOOL])
    upstream = built(plan, gemini, target)
    assert upstream.dropped == ["safety_identifier", "tools.0.function.strict"]
    assert b"h-1" not in upstream.content and b'"k"' not in upstream.content
    with pytest.raises(GatewayError) as caught:
        built(plan_of("google", parallel_tool_calls=False), gemini, target)
    error = translate.rename_error(caught.value, plan)
    assert (error.param, error.code) == ("parallel_tool_calls", "unsupported_parameter")


def test_on_the_anthropic_route_safety_identifier_is_the_user_id_and_cache_key_ignored():
    target = Target(provider="anthropic", api_key="sk-ant-test")
    plan = plan_of("anthropic", safety_identifier="h-1", prompt_cache_key="k")
    plan.body["model"] = "claude-sonnet-4-5"
    upstream = built(plan, anthropic, target)
    assert upstream.sent["metadata"] == {"user_id": "h-1"}
    assert upstream.dropped == [] and "prompt_cache_key" not in upstream.sent
