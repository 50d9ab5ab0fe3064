"""POST /v1/logs/{id}/replay over real sockets: a real Iris, fake OpenAI and Anthropic."""

import base64
import json
import time

import httpx
import pytest

from tests.conftest import SHARED_IMAGES

CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()
SETUP = """
from gateway.models import ApiKey, Provider

ApiKey.objects.filter(name__in=["replayer", "app-only"]).delete()
Provider.objects.filter(slug="replay-claude").delete()
record = Provider(name="Claude", slug="replay-claude", kind="anthropic", base_url={url!r},
    default_model="claude-sonnet-4-5")
record.set_credential("api_key", "sk-ant-admin")
record.save()
print(ApiKey.generate("replayer", can_read_logs=True)[1])
print(ApiKey.generate("app-only", can_read_logs=False)[1])
"""


@pytest.fixture(scope="module")
def keys(iris, fake_anthropic) -> tuple[str, str]:
    """(a key that may read the logs, one that may not), and the provider @replay-claude."""
    out = iris.manage("shell", "-c", SETUP.format(url=f"{fake_anthropic.url}/v1"))
    reader, app = out.splitlines()[-2:]
    return reader, app


@pytest.fixture(scope="module")
def original(iris, fake_openai, keys) -> dict:
    """A chat completion with an image, sent to OpenAI (the fake) and logged."""
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What animal is this?"},
                    {
                        "type": "image_url",
                        "image_url": {
                            "url": "data:image/png;base64," + base64.b64encode(CAT).decode()
                        },
                    },
                ],
            }
        ],
    }
    headers = {
        "x-portkey-api-key": keys[0],
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{fake_openai.url}/v1",
        "authorization": "Bearer sk-openai",
    }
    response = httpx.post(f"{iris.url}/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return logged(iris, keys[0], response.headers["x-iris-request-id"])


def logged(iris, key: str, request_id: str) -> dict:
    """The full log record of a request, once the writer has written it (read with a key of
    our own that may read the logs, whatever a new key's default)."""
    headers = {"x-portkey-api-key": key}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{iris.url}/v1/logs", params={"request_id": request_id}, headers=headers
        )
        response.raise_for_status()
        if rows := response.json()["data"]:
            return httpx.get(f"{iris.url}/v1/logs/{rows[0]['id']}", headers=headers).json()
        time.sleep(0.05)
    raise AssertionError(f"no log for request {request_id}")


def post(iris, ref, body: dict, key: str | None, **headers) -> httpx.Response:
    if key:
        headers["x-portkey-api-key"] = key
    return httpx.post(f"{iris.url}/v1/logs/{ref}/replay", json=body, headers=headers, timeout=30)


def test_it_replays_on_another_provider_kind_with_the_image_translated(
    iris, keys, original, fake_anthropic
):
    response = post(iris, original["id"], {"provider": "@replay-claude", "model": ""}, keys[0])
    assert response.status_code == 200, response.text
    answer = response.json()
    sent = fake_anthropic.received[-1].json()
    image = sent["messages"][0]["content"][1]
    assert image["source"]["type"] == "base64"
    assert base64.b64decode(image["source"]["data"]) == CAT  # the stored bytes, translated
    assert sent["model"] == "claude-sonnet-4-5"  # the @slug's default model
    assert "You said: What animal is this?" in json.dumps(answer["response"])
    assert answer["replay_of"] == {"id": original["id"], "request_id": original["request_id"]}
    replayed = logged(iris, keys[0], answer["request_id"])
    assert answer["id"] in (None, replayed["id"])
    assert (replayed["provider"], replayed["provider_slug"]) == ("anthropic", "replay-claude")
    assert replayed["metadata"]["iris_replay_of"] == original["request_id"]
    assert replayed["api_key"] == "replayer"


def test_it_takes_the_request_id_and_a_provider_kind_with_its_key(
    iris, keys, original, fake_openai
):
    body = {"provider": "openai", "model": "gpt-4.1", "overrides": {"max_tokens": 20}}
    response = post(
        iris,
        original["request_id"],
        body,
        keys[0],
        authorization="Bearer sk-openai",
        **{"x-portkey-custom-host": f"{fake_openai.url}/v1"},
    )
    assert response.status_code == 200, response.text
    sent = fake_openai.received[-1].json()
    assert (sent["model"], sent["max_tokens"]) == ("gpt-4.1", 20)
    url = sent["messages"][0]["content"][1]["image_url"]["url"]
    assert base64.b64decode(url.split(",", 1)[1]) == CAT


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [(None, 401, "missing_api_key"), ("iris-wrong", 401, "invalid_api_key"), (1, 403, None)],
)
def test_it_needs_a_key_that_may_read_the_logs(iris, keys, original, key, status, code):
    key = keys[key] if isinstance(key, int) else key
    response = post(iris, original["id"], {"provider": "@replay-claude"}, key)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == (code or "logs_not_allowed")


@pytest.mark.parametrize(
    ("ref", "body", "status", "code"),
    [
        ("999999999", {"provider": "@replay-claude"}, 404, "log_not_found"),
        ("0" * 32, {"provider": "@replay-claude"}, 404, "log_not_found"),
        ("original", {}, 400, "missing_provider"),
        ("original", {"provider": "@replay-claude", "overrides": [1]}, 400, "invalid_overrides"),
        ("original", {"provider": "@replay-claude", "temperature": 1}, 400, "unknown_parameter"),
        ("original", {"provider": "@nope-not-here"}, 404, "provider_not_found"),
    ],
)
def test_its_errors(iris, keys, original, ref, body, status, code):
    ref = original["id"] if ref == "original" else ref
    response = post(iris, ref, body, keys[0])
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_it_answers_405_to_a_get(iris, keys, original):
    response = httpx.get(
        f"{iris.url}/v1/logs/{original['id']}/replay", headers={"x-portkey-api-key": keys[0]}
    )
    assert response.status_code == 405


CONFIGURED = """
from gateway.configs.models import Config
from gateway.models import ApiKey

ApiKey.objects.filter(name="replayer-configured").delete()
Config.objects.filter(slug="replay-default").delete()
config = Config.objects.create(slug="replay-default", body={{
    "provider": "openai", "api_key": "sk-config", "custom_host": {url!r}}})
print(ApiKey.generate("replayer-configured", can_read_logs=True, default_config=config)[1])
"""


def test_a_keys_default_config_does_not_reroute_a_replay(
    iris, keys, original, fake_openai, fake_anthropic
):
    """A replay goes where its user said, not where the key's default config sends requests."""
    out = iris.manage("shell", "-c", CONFIGURED.format(url=f"{fake_openai.url}/v1"))
    key = out.splitlines()[-1]
    before = len(fake_anthropic.received)

    response = post(iris, original["id"], {"provider": "@replay-claude", "model": ""}, key)

    assert response.status_code == 200, response.text
    assert len(fake_anthropic.received) == before + 1
    replayed = logged(iris, keys[0], response.json()["request_id"])
    assert replayed["provider_slug"] == "replay-claude" and not replayed["config_id"]
