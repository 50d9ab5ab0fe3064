"""OpenAI parameters on the google route over real sockets: the openai SDK → a real Iris → the
strict fake Gemini (which checks generationConfig with google-genai's types). A mapped
parameter reaches Gemini, one Gemini cannot honour is a 400 naming it that never leaves Iris,
and the drop opt-in (body or header) lets it through, recorded on the log."""

import openai
import pytest

from tests.api.test_gemini_e2e import client_for

MODEL = "gemini-2.5-flash"
ASK = [{"role": "user", "content": "Ada Lovelace"}]


@pytest.fixture
def client(iris, fake_gemini) -> openai.OpenAI:
    return client_for(iris, fake_gemini)


def sent(fake_gemini) -> dict:
    return fake_gemini.last("POST").json()


def test_penalties_and_log_probabilities_reach_gemini_and_come_back(client, fake_gemini):
    completion = client.chat.completions.create(
        model=MODEL,
        messages=ASK,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        logprobs=True,
        top_logprobs=2,
        service_tier="flex",
    )
    body = sent(fake_gemini)
    assert body["generationConfig"] == {
        "presencePenalty": 0.5,
        "frequencyPenalty": 0.25,
        "responseLogprobs": True,
        "logprobs": 2,
    }
    assert body["serviceTier"] == "flex"
    choice = completion.choices[0]
    assert "".join(t.token for t in choice.logprobs.content) == choice.message.content
    assert all(len(t.top_logprobs) == 2 for t in choice.logprobs.content)


def test_a_streamed_answer_carries_its_log_probabilities(client):
    stream = client.chat.completions.create(model=MODEL, messages=ASK, logprobs=True, stream=True)
    text, tokens = "", []
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            tokens += chunk.choices[0].logprobs.content if chunk.choices[0].logprobs else []
    assert text.endswith("You said: Ada Lovelace")
    assert "".join(t.token for t in tokens) == text


def test_n_answers_several_choices(client):
    completion = client.chat.completions.create(model=MODEL, messages=ASK, n=2)
    assert [c.index for c in completion.choices] == [0, 1]


def test_a_parameter_gemini_cannot_honour_is_a_400_before_gemini(client, fake_gemini):
    before = len(fake_gemini.received)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=ASK, logit_bias={"42": 10})
    assert caught.value.body["param"] == "logit_bias"
    assert caught.value.body["code"] == "unsupported_parameter"
    assert "google route" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=ASK, parallel_tool_calls=False)
    assert caught.value.body["param"] == "parallel_tool_calls"
    assert len(fake_gemini.received) == before


def test_drop_params_lets_it_through_and_the_log_records_it(client, iris, fake_gemini):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=ASK,
        logit_bias={"42": 10},
        user="u-1",
        extra_body={"drop_params": True},
    )
    assert raw.parse().choices[0].message.content.endswith("You said: Ada Lovelace")
    assert "drop_params" not in sent(fake_gemini) and "logit_bias" not in str(sent(fake_gemini))
    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["dropped_params"] == ["logit_bias", "user"]
    by_header = client_for(iris, fake_gemini).with_options(
        default_headers={**client.default_headers, "x-portkey-drop-params": "true"}
    )
    raw = by_header.chat.completions.with_raw_response.create(
        model=MODEL, messages=ASK, verbosity="low"
    )
    assert iris.log(raw.headers["x-iris-request-id"])["dropped_params"] == ["verbosity"]


def test_a_responses_request_on_the_google_route_refuses_or_records_them(client, iris):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL, input="hi", max_tool_calls=2)
    assert caught.value.body["param"] == "max_tool_calls"
    raw = client.responses.with_raw_response.create(
        model=MODEL, input="hi", max_tool_calls=2, safety_identifier="h-1",
        extra_body={"drop_params": True},
    )  # fmt: skip
    assert raw.parse().output_text.endswith("You said: hi")
    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["dropped_params"] == ["max_tool_calls", "safety_identifier"]
