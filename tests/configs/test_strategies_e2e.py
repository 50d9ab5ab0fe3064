"""Which config applies and which target it picks, over real sockets: the portkey-ai SDK's
config= (inline and a saved id), a key's default config, load balancing by weight,
conditional routing, and the 400/404 a bad config gets."""

import json

import httpx
import pytest
from portkey_ai import Portkey

from tests.configs.routing import (
    CLAUDE_MODEL,
    answer,
    anthropic_leaf,
    attempts,
    chat,
    openai_leaf,
    routed_headers,
    user,
)
from tests.fakes.cued import Cued


def save_config(iris, slug: str, body: dict, **fields) -> None:
    code = (
        "import json; from gateway.configs.models import Config; "
        f"Config.objects.update_or_create(slug={slug!r}, "
        f"defaults=dict(body=json.loads({json.dumps(body)!r}), **{fields!r}))"
    )
    iris.manage("shell", "-c", code)


def fallback(*targets) -> dict:
    return {"strategy": {"mode": "fallback"}, "targets": list(targets)}


def portkey(iris, config, **options) -> Portkey:
    return Portkey(
        api_key=iris.key, base_url=f"{iris.url}/v1", config=config, max_retries=0, **options
    )


def logged_by_trace(iris, trace_id: str) -> str:
    """The request id of the one request sent with this trace id."""
    [row] = iris.find_logs(trace_id=trace_id)
    return row["request_id"]


def test_the_sdk_with_an_inline_config(routing_iris, cued_openai, cued_anthropic):
    cued_openai.cued.cue(Cued.error(500))
    config = fallback(openai_leaf(cued_openai), anthropic_leaf(cued_anthropic))
    client = portkey(routing_iris, config, trace_id="trace-inline-config")
    result = client.chat.completions.create(model="gpt-4o", messages=user("inline sdk"))
    assert result.choices[0].message.content == "I see 0 image(s). You said: inline sdk"
    assert cued_openai.cued.models() == ["gpt-4o"]
    assert cued_anthropic.cued.models() == [CLAUDE_MODEL]
    headers = result.get_headers()  # the x-portkey-* headers, their prefix cut off
    assert headers["last-used-option-index"] == "config.targets[1]"
    assert headers["retry-attempt-count"] == "0" and headers["cache-status"] == "DISABLED"
    assert headers["provider"] == "anthropic"
    assert headers["trace-id"] == "trace-inline-config"
    request_id = logged_by_trace(routing_iris, "trace-inline-config")
    assert routing_iris.log(request_id)["provider"] == "anthropic"
    assert [a["status"] for a in attempts(routing_iris, request_id)] == [500, 200]


def test_the_sdk_with_a_saved_config_id(routing_iris, cued_openai, cued_anthropic):
    body = {
        "retry": {"attempts": 1},
        **fallback(anthropic_leaf(cued_anthropic), openai_leaf(cued_openai)),
    }
    save_config(routing_iris, "pc-saved-fallback", body, name="saved")
    cued_anthropic.cued.cue(Cued.error(503), Cued.error(503))  # retried once, then fell back
    client = portkey(routing_iris, "pc-saved-fallback", trace_id="trace-saved-config")
    stream = client.chat.completions.create(model="gpt-4o", messages=user("saved sdk"), stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "I see 0 image(s). You said: saved sdk"
    assert cued_anthropic.cued.models() == [CLAUDE_MODEL] * 2
    assert cued_openai.cued.models() == ["gpt-4o"]
    request_id = logged_by_trace(routing_iris, "trace-saved-config")
    tried = attempts(routing_iris, request_id)
    assert [(a["target"], a["retry"], a["status"]) for a in tried] == [
        ("config.targets[0]", 0, 503),
        ("config.targets[0]", 1, 503),
        ("config.targets[1]", 0, 200),
    ]


def test_an_unknown_saved_id_is_a_404(routing_iris, cued_openai):
    response = chat(routing_iris, "pc-no-such-config")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "config_not_found"
    assert cued_openai.cued.calls == []
    with pytest.raises(Exception) as caught:  # noqa: PT011 (the SDK's vendored openai error)
        portkey(routing_iris, "pc-no-such-config").chat.completions.create(
            model="gpt-4o", messages=user()
        )
    assert caught.value.status_code == 404


def test_a_disabled_saved_config_is_refused(routing_iris, cued_openai):
    save_config(routing_iris, "pc-disabled", openai_leaf(cued_openai), enabled=False)
    response = chat(routing_iris, "pc-disabled")
    assert response.status_code == 400  # as the admin's help text says, not an unknown id's 404
    assert response.json()["error"]["code"] == "config_disabled"
    assert "pc-disabled" in response.json()["error"]["message"]
    assert cued_openai.cued.calls == []


@pytest.mark.parametrize(
    ("config", "path"),
    [
        (
            {
                "strategy": {"mode": "fallback"},
                "targets": [{"provider": "openai", "retry": {"attempts": 9}}],
            },
            "targets[0].retry.attempts",
        ),
        ({"provider": "openai", "cache": {"mode": "semantic"}}, "cache.mode"),
        ({"provider": "openai", "guardrails": ["x"]}, "guardrails"),
    ],
)
def test_an_invalid_config_is_a_400_naming_the_path(routing_iris, cued_openai, config, path):
    response = chat(routing_iris, config)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_config" and error["param"] == "x-portkey-config"
    assert f"{path}:" in error["message"]
    assert cued_openai.cued.calls == []


def test_an_invalid_config_keeps_its_api_key_out_of_the_answer(routing_iris):
    config = {"provider": "openai", "api_key": "sk-secret-123", "retry": {"attempts": "x"}}
    response = chat(routing_iris, config)
    assert response.status_code == 400 and "sk-secret-123" not in response.text


def test_a_config_that_is_not_json_is_a_400(routing_iris):
    response = chat(routing_iris, "{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_config"


def test_a_keys_default_config(routing_iris, cued_openai, cued_anthropic):
    save_config(routing_iris, "pc-key-default", anthropic_leaf(cued_anthropic))
    key = routing_iris.manage("create_api_key", "with-default").splitlines()[-1]
    routing_iris.manage(
        "shell",
        "-c",
        "from gateway.models import ApiKey; from gateway.configs.models import Config; "
        "ApiKey.objects.filter(name='with-default').update("
        "default_config=Config.objects.get(slug='pc-key-default'))",
    )
    body = {"model": "gpt-4o", "messages": user("by default")}
    url = f"{routing_iris.url}/v1/chat/completions"
    response = httpx.post(url, headers={"x-portkey-api-key": key}, json=body, timeout=30)
    assert answer(response) == "I see 0 image(s). You said: by default"
    assert cued_anthropic.cued.models() == [CLAUDE_MODEL]
    assert routed_headers(response)[0] == "config"
    # A config in the request wins over the key's default.
    response = httpx.post(
        url,
        headers={
            "x-portkey-api-key": key,
            "x-portkey-config": json.dumps(openai_leaf(cued_openai)),
        },
        json=body,
        timeout=30,
    )
    assert answer(response)
    assert cued_openai.cued.models() == ["gpt-4o"] and len(cued_anthropic.cued.calls) == 1


def test_a_loadbalance_splits_by_weight(routing_iris, cued_openai):
    config = {
        "strategy": {"mode": "loadbalance"},
        "targets": [
            openai_leaf(cued_openai, weight=3, override_params={"model": "heavy"}),
            openai_leaf(cued_openai, weight=1, override_params={"model": "light"}),
        ],
    }
    n, p = 200, 0.75
    indexes = []
    for _ in range(n):
        response = chat(routing_iris, config)
        assert response.status_code == 200
        indexes.append(response.headers["x-portkey-last-used-option-index"])
    models = cued_openai.cued.models()
    assert len(models) == n
    heavy = models.count("heavy")
    assert heavy + models.count("light") == n
    sigma = (n * p * (1 - p)) ** 0.5  # binomial: 150 ± 6.1
    assert abs(heavy - n * p) <= 5 * sigma, heavy
    # Each answer named the target its upstream call went to.
    expected = ["config.targets[0]" if m == "heavy" else "config.targets[1]" for m in models]
    assert sorted(indexes) == sorted(expected)


def conditional_config(cued_openai, cued_anthropic) -> dict:
    return {
        "strategy": {
            "mode": "conditional",
            "conditions": [
                {"query": {"metadata.plan": {"$eq": "paid"}}, "then": "claude"},
                {
                    "query": {
                        "$and": [{"params.model": "gpt-4o"}, {"params.temperature": {"$lt": 0.5}}]
                    },
                    "then": "precise",
                },
            ],
            "default": "cheap",
        },
        "targets": [
            anthropic_leaf(cued_anthropic, name="claude"),
            openai_leaf(cued_openai, name="precise", override_params={"model": "precise"}),
            openai_leaf(cued_openai, name="cheap", override_params={"model": "cheap"}),
        ],
    }


def test_conditional_routing_on_metadata_and_params(routing_iris, cued_openai, cued_anthropic):
    config = conditional_config(cued_openai, cued_anthropic)
    paid = {"x-portkey-metadata": json.dumps({"plan": "paid"})}
    response = chat(routing_iris, config, headers=paid, temperature=0.1)
    assert answer(response) and routed_headers(response)[0] == "config.targets[0]"
    assert cued_anthropic.cued.models() == [CLAUDE_MODEL]
    response = chat(routing_iris, config, temperature=0.1)
    assert routed_headers(response)[0] == "config.targets[1]"
    response = chat(routing_iris, config, temperature=0.9)
    assert routed_headers(response)[0] == "config.targets[2]"
    free = {"x-portkey-metadata": json.dumps({"plan": "free"})}
    response = chat(routing_iris, config, headers=free)
    assert routed_headers(response)[0] == "config.targets[2]"
    assert cued_openai.cued.models() == ["precise", "cheap", "cheap"]
    assert len(cued_anthropic.cued.calls) == 1


def test_conditional_without_a_match_or_default_is_a_400(routing_iris, cued_openai):
    config = {
        "strategy": {
            "mode": "conditional",
            "conditions": [{"query": {"metadata.plan": "paid"}, "then": "a"}],
        },
        "targets": [openai_leaf(cued_openai, name="a")],
    }
    response = chat(routing_iris, config)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_matching_condition"
    assert cued_openai.cued.calls == []


def test_a_configs_api_key_stays_out_of_the_log(routing_iris, cued_openai):
    secret = "sk-config-secret-7f3a9"
    cued_openai.cued.cue(Cued.error(500, f"bad key {secret}"))  # an upstream echoing it back
    config = openai_leaf(cued_openai, api_key=secret, retry={"attempts": 1})
    response = chat(routing_iris, config)
    assert answer(response)
    assert [c.request.headers["authorization"] for c in cued_openai.cued.calls] == [
        f"Bearer {secret}"
    ] * 2
    request_id = response.headers["x-iris-request-id"]
    logged = json.dumps(routing_iris.log(request_id))
    assert secret not in logged and secret not in json.dumps(attempts(routing_iris, request_id))
    assert secret not in response.text
