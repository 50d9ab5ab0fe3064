"""Over real sockets: a chat request through a real Iris to the fake OpenAI, and the cost its
log writer stores from the usage the fake reported."""

import json

import openai
from portkey_ai import createHeaders


def stored_cost(iris, request_id: str) -> tuple[str, dict]:
    iris.log(request_id)  # waits for the background writer
    code = (
        "import json; from gateway.models import RequestLog; "
        f"r = RequestLog.objects.get(request_id={request_id!r}); "
        "print(json.dumps([str(r.cost_usd), r.cost_breakdown]))"
    )
    cost, breakdown = json.loads(iris.manage("shell", "-c", code).splitlines()[-1])
    return cost, breakdown


def test_a_proxied_chat_request_is_logged_with_its_cost(iris, fake_openai):
    headers = createHeaders(
        provider="openai", api_key=iris.key, custom_host=f"{fake_openai.url}/v1"
    )
    client = openai.OpenAI(base_url=f"{iris.url}/v1", api_key="sk-x", default_headers=headers)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    usage = raw.parse().usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 7)  # the fake's answer
    cost, breakdown = stored_cost(iris, raw.headers["x-iris-request-id"])
    # gpt-4o: 11 × $2.50 + 7 × $10 per million = 27.5 + 70 µ$
    assert cost == "0.0000975000"
    assert breakdown["total"] == "0.0000975" and breakdown["unknown"] == []
    assert breakdown["source"] == "genai-prices 0.2.3: openai gpt-4o"
