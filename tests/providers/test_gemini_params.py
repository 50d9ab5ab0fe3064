"""OpenAI chat parameters on the google route (gateway/providers/gemini_params.py): what maps to
generationConfig (checked against google-genai's types by the fake's validator), what is a 400
naming it unless the client opts into dropping it, what is recorded as dropped, and Gemini's
log probabilities in OpenAI's shape (checked with the openai SDK's types)."""

import json

import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gateway.chat import Chat, parse_chat
from gateway.errors import GatewayError
from gateway.providers import gemini
from gateway.providers.base import Target
from tests.fakes import gemini as fake

TARGET = Target(provider="google", api_key="AIza-test-key")
HI = [{"role": "user", "content": "hi there"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        "strict": True,
    },
}


def make_chat(**extra) -> Chat:
    return parse_chat(orjson.dumps({"model": "gemini-2.5-flash", "messages": HI, **extra}))


def built(chat: Chat, target: Target = TARGET) -> tuple[dict, list[str]]:
    """The upstream body (which must pass the fake's google-genai validation) and dropped."""
    upstream = gemini.build_request(chat, target)
    body = json.loads(upstream.content)
    fake.validate(body, chat.model)
    return body, upstream.dropped


def refused(chat: Chat, target: Target = TARGET) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        gemini.build_request(chat, target)
    assert caught.value.status == 400
    return caught.value


def test_penalties_top_k_and_log_probabilities_go_to_generation_config():
    chat = make_chat(
        presence_penalty=0.5,
        frequency_penalty=-0.25,
        top_k=40,
        seed=7,
        n=2,
        logprobs=True,
        top_logprobs=3,
    )
    body, dropped = built(chat)
    assert body["generationConfig"] == {
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.25,
        "topK": 40,
        "seed": 7,
        "candidateCount": 2,
        "responseLogprobs": True,
        "logprobs": 3,
    }
    assert dropped == []


def test_logprobs_false_asks_for_nothing_and_top_logprobs_needs_logprobs():
    body, _ = built(make_chat(logprobs=False, top_logprobs=0))
    assert "generationConfig" not in body
    error = refused(make_chat(top_logprobs=2))
    assert error.param == "top_logprobs"


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("logit_bias", {"50256": -100}),
        ("parallel_tool_calls", False),
        ("audio", {"voice": "alloy", "format": "wav"}),
        ("prediction", {"type": "content", "content": "x"}),
        ("web_search_options", {}),
        ("functions", [{"name": "f"}]),
        ("function_call", "auto"),
        ("verbosity", "low"),
        ("service_tier", "scale"),
    ],
)
def test_what_gemini_cannot_honour_is_a_400_naming_it(param, value):
    error = refused(make_chat(**{param: value}))
    assert error.param == param
    assert error.code == "unsupported_parameter"
    assert error.message.startswith(f"{param} is not supported on the google route")
    assert "drop_params" in error.message


def test_the_values_that_ask_for_nothing_are_not_refused():
    chat = make_chat(
        logit_bias={}, parallel_tool_calls=True, verbosity="medium", service_tier="auto"
    )
    body, dropped = built(chat)
    assert dropped == [] and "serviceTier" not in body


def test_drop_params_in_the_body_or_on_the_provider_record_records_what_was_left_out():
    chat = make_chat(logit_bias={"1": 5}, verbosity="high", drop_params=True)
    body, dropped = built(chat)
    assert dropped == ["logit_bias", "verbosity"]
    assert "drop_params" not in body and "generationConfig" not in body
    opted = Target(provider="google", api_key="AIza-test-key", options={"drop-params": "true"})
    _, dropped = built(make_chat(prediction={"type": "content", "content": "x"}), opted)
    assert dropped == ["prediction"]


def test_user_and_unknown_keys_are_recorded_as_dropped_without_a_400():
    _, dropped = built(make_chat(user="u-1", safety_identifier="hash", store=True, foo=1))
    assert dropped == ["foo", "safety_identifier", "user"]  # store: harmless, not recorded


@pytest.mark.parametrize(
    ("tier", "sent"), [("default", "standard"), ("flex", "flex"), ("priority", "priority")]
)
def test_service_tiers_map_to_gemini_service_tier(tier, sent):
    body, _ = built(make_chat(service_tier=tier))
    assert body["serviceTier"] == sent


def test_a_strict_tool_under_auto_is_recorded_as_dropped_but_kept_under_any():
    _, dropped = built(make_chat(tools=[TOOL]))
    assert dropped == ["tools.0.function.strict"]
    body, dropped = built(make_chat(tools=[TOOL], tool_choice="required"))
    assert dropped == [] and body["toolConfig"]["functionCallingConfig"]["mode"] == "ANY"


def test_json_schema_strict_is_honoured_by_response_json_schema():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    spec = {"name": "A", "strict": True, "schema": schema}
    body, dropped = built(make_chat(response_format={"type": "json_schema", "json_schema": spec}))
    assert body["generationConfig"]["responseJsonSchema"] == schema and dropped == []


def test_log_probabilities_come_back_in_openais_shape():
    chat = make_chat(logprobs=True, top_logprobs=2, n=2)
    body, _ = built(chat)
    answer = fake.response("gemini-2.5-flash", body, 2)
    completion = ChatCompletion.model_validate(gemini.parse_response(answer, chat))
    text = fake.reply_text(body)
    for choice in completion.choices:
        tokens = choice.logprobs.content
        assert "".join(t.token for t in tokens) == text
        assert tokens[0].logprob == -0.25 and tokens[0].bytes == list(tokens[0].token.encode())
        assert [t.token for t in tokens[1].top_logprobs] == [tokens[1].token, "alt1"]


def test_a_response_without_logprobs_has_none():
    chat = make_chat()
    body, _ = built(chat)
    answer = gemini.parse_response(fake.response("gemini-2.5-flash", body, 1), chat)
    assert answer["choices"][0]["logprobs"] is None


def test_a_stream_gives_each_fragments_log_probabilities_on_its_chunk():
    chat = make_chat(stream=True, logprobs=True)
    body, _ = built(chat)
    stream = gemini.Stream(chat)
    chunks = stream.feed(b"".join(fake.fragments("gemini-2.5-flash", body, 1))) + stream.close()
    parsed = [ChatCompletionChunk.model_validate(c) for c in chunks]
    tokens = [
        t for c in parsed for t in (c.choices[0].logprobs.content if c.choices[0].logprobs else [])
    ]
    assert "".join(t.token for t in tokens) == fake.reply_text(body)
    assert all(t.top_logprobs == [] for t in tokens)


def test_a_gemini_config_the_fake_refuses_without_response_logprobs():
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    with pytest.raises(fake.Invalid):
        fake.validate(body | {"generationConfig": {"logprobs": 2}}, "gemini-2.5-flash")
