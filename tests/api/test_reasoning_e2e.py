"""reasoning_effort over real sockets: the openai SDK → a real Iris → strict fake Anthropic,
Bedrock and Gemini upstreams (each checks the thinking request against its provider's types
and documented rules, and answers its own thinking shape)."""

import openai
import pytest

from tests.fakes import anthropic_thinking as fake_thinking
from tests.fakes import bedrock as fake_bedrock_handler
from tests.fakes import gemini_thinking as fake_gemini_thinking

QUESTION = "Why is the sky blue?"
THOUGHT = fake_thinking.thought(QUESTION)
CLAUDE = "claude-sonnet-4-5"
BEDROCK_CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
GEMINI = "gemini-2.5-flash"


def client_for(iris, provider: str, host: str, key: str, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{iris.url}/v1",
        api_key=key,
        max_retries=0,
        default_headers=iris.headers(
            **{"x-portkey-provider": provider, "x-portkey-custom-host": host, **headers}
        ),
    )


@pytest.fixture(params=["anthropic", "bedrock", "google"])
def route(request, iris, fake_anthropic, fake_bedrock, fake_gemini):
    """(client, model, the thought the fake answers, the fake) for each route."""
    if request.param == "anthropic":
        client = client_for(iris, "anthropic", f"{fake_anthropic.url}/v1", "sk-ant-secret")
        return client, CLAUDE, THOUGHT, fake_anthropic
    if request.param == "bedrock":
        aws = {
            "x-portkey-aws-access-key-id": fake_bedrock_handler.ACCESS_KEY_ID,
            "x-portkey-aws-secret-access-key": fake_bedrock_handler.SECRET_ACCESS_KEY,
            "x-portkey-aws-region": fake_bedrock_handler.REGION,
        }
        client = client_for(iris, "bedrock", fake_bedrock.url, "unused", **aws)
        return client, BEDROCK_CLAUDE, THOUGHT, fake_bedrock
    client = client_for(iris, "google", fake_gemini.url, "AIza-fake-gemini-key")
    return client, GEMINI, fake_gemini_thinking.THOUGHT, fake_gemini


def test_reasoning_effort_high_answers_the_reasoning_as_reasoning_content(route):
    client, model, thought, _ = route
    completion = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": QUESTION}], reasoning_effort="high"
    )
    message = completion.choices[0].message
    assert message.model_extra["reasoning_content"] == thought
    assert thought not in (message.content or "")
    assert message.content


def test_a_stream_gives_the_reasoning_as_reasoning_content_deltas(route):
    client, model, thought, _ = route
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": QUESTION}],
        reasoning_effort="high",
        stream=True,
    )
    deltas = [chunk.choices[0].delta for chunk in stream if chunk.choices]
    assert "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas) == thought
    assert "".join(d.content or "" for d in deltas)


def test_the_thinking_sent_upstream_is_each_providers_own(route):
    client, model, _, fake = route
    client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": QUESTION}], reasoning_effort="low"
    )
    sent = fake.last("POST").json()
    if model == CLAUDE:
        assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    elif model == BEDROCK_CLAUDE:
        fields = sent["additionalModelRequestFields"]
        assert fields == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    else:
        config = sent["generationConfig"]["thinkingConfig"]
        assert config == {"thinkingBudget": 1024, "includeThoughts": True}


def test_a_tool_call_with_thinking_goes_back_with_its_signed_block(iris, fake_anthropic):
    client = client_for(iris, "anthropic", f"{fake_anthropic.url}/v1", "sk-ant-secret")
    tool = {
        "type": "function",
        "function": {"name": "look_up", "parameters": {"type": "object", "properties": {}}},
    }
    question = {"role": "user", "content": QUESTION}
    first = client.chat.completions.create(
        model=CLAUDE, messages=[question], tools=[tool], reasoning_effort="high"
    )
    said = first.choices[0].message.model_dump(exclude_none=True)
    assert said["tool_calls"] and said["thinking_blocks"]
    result = {"role": "tool", "tool_call_id": said["tool_calls"][0]["id"], "content": "light"}
    second = client.chat.completions.create(
        model=CLAUDE, messages=[question, said, result], tools=[tool], reasoning_effort="high"
    )
    assert second.choices[0].message.content.startswith("Tool said: light")


def test_responses_on_the_anthropic_route_return_a_reasoning_item(iris, fake_anthropic):
    client = client_for(iris, "anthropic", f"{fake_anthropic.url}/v1", "sk-ant-secret")
    response = client.responses.create(
        model=CLAUDE, input=QUESTION, reasoning={"effort": "low", "summary": "auto"}
    )
    reasoning, message = response.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == THOUGHT
    assert message.type == "message" and response.output_text.startswith("I see 0 image(s)")
    assert fake_anthropic.last("POST").json()["thinking"]["budget_tokens"] == 2048
    with client.responses.stream(
        model=CLAUDE, input=QUESTION, reasoning={"effort": "low", "summary": "auto"}
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.reasoning_summary_text.delta" in kinds
    assert final.output[0].summary[0].text == THOUGHT
