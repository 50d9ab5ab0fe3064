"""The logs API's view of routing by a config: `attempts`, `cache_status`, `config_id`,
`retried`, `fell_back` on each record, and the `routing` and `config` filters; over a real Iris
with a real fallback, and in-process for the filters."""

import json
import uuid

import httpx
import pytest

from gateway.models import ApiKey
from tests.fakes.server import FakeServer, Received, Reply
from tests.ui.logs import make_log
from tests.ui.routed_logs import CACHE_HIT, FALLBACK_CHAIN, routed_log

SECRET_BROKEN = "sk-broken-target-secret-0123456789"
SECRET_GOOD = "sk-good-target-secret-9876543210"
ROUTED_FIELDS = ("attempts", "cache_status", "config_id", "retried", "fell_back")


def _echo_key_and_fail(request: Received) -> Reply:
    """A careless upstream: 500, quoting the key it was sent."""
    key = request.headers.get("authorization", "")
    error = {"message": f"Internal error for {key}", "type": "server_error", "code": None}
    return Reply.json(500, {"error": error})


@pytest.fixture(scope="module")
def broken_openai():
    with FakeServer(_echo_key_and_fail) as server:
        yield server


def _fallback(broken_url: str, good_url: str) -> dict:
    return {
        "strategy": {"mode": "fallback"},
        "targets": [
            {"provider": "openai", "api_key": SECRET_BROKEN, "custom_host": f"{broken_url}/v1"},
            {"provider": "openai", "api_key": SECRET_GOOD, "custom_host": f"{good_url}/v1"},
        ],
    }


def _chat(iris, config: str, text: str) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    headers = iris.headers(**{"x-portkey-config": config})
    return httpx.post(f"{iris.url}/v1/chat/completions", json=body, headers=headers, timeout=30)


def test_a_real_fallback_is_logged_with_its_attempts_and_no_secret(
    iris, fake_openai, broken_openai
):
    config = json.dumps(_fallback(broken_openai.url, fake_openai.url))
    response = _chat(iris, config, "fallback please")
    assert response.status_code == 200, response.text
    assert response.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    log = iris.log(response.headers["x-iris-request-id"])

    assert log["config_id"] == "inline" and log["fell_back"] is True and log["retried"] is False
    assert log["cache_status"] == "DISABLED"  # no cache in this config, as the header said
    first, second = log["attempts"]
    assert first["target"] == "config.targets[0]" and first["status"] == 500
    assert first["provider"] == "openai" and first["model"] == "gpt-4o-mini"
    assert "Internal error" in first["error"] and first["retry"] == 0
    assert not first.get("skipped") and first["fell_back"] is False
    assert second["target"] == "config.targets[1]" and second["status"] == 200
    assert second["fell_back"] is True and isinstance(second["latency_ms"], int | float)
    # The broken upstream echoed its key: the log keeps neither target's key anywhere.
    text = json.dumps(log)
    assert SECRET_BROKEN not in text and SECRET_GOOD not in text

    # The list says the same, and finds it by its routing.
    [row] = iris.logs(request_id=log["request_id"])["data"]
    assert {name: row[name] for name in ROUTED_FIELDS} == {
        name: log[name] for name in ROUTED_FIELDS
    }
    found = iris.logs(routing="fell_back", config="inline", limit=200)["data"]
    assert log["id"] in [r["id"] for r in found]
    assert all(r["fell_back"] and r["config_id"] == "inline" for r in found)


def test_a_saved_config_is_logged_by_its_id_and_filtered_by_it(iris, fake_openai, broken_openai):
    slug = f"fallback-{uuid.uuid4().hex[:8]}"
    body = json.dumps(_fallback(broken_openai.url, fake_openai.url))
    code = (
        "from gateway.configs.models import Config; "
        f"Config.objects.create(slug={slug!r}, body={body}); print('ok')"
    )
    assert iris.manage("shell", "-c", code).splitlines()[-1] == "ok"
    response = _chat(iris, slug, "saved fallback")
    assert response.status_code == 200, response.text
    log = iris.log(response.headers["x-iris-request-id"])
    assert log["config_id"] == slug and [a["status"] for a in log["attempts"]] == [500, 200]
    assert [r["id"] for r in iris.find_logs(config=slug)] == [log["id"]]
    assert iris.logs(config=slug, routing="cached")["data"] == []


def test_a_request_without_a_config_has_empty_routing_fields(iris, fake_openai):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "plain"}]}
    headers = iris.headers(
        **{
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"{fake_openai.url}/v1",
            "authorization": "Bearer sk-plain",
        }
    )
    response = httpx.post(f"{iris.url}/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 200, response.text
    log = iris.log(response.headers["x-iris-request-id"])
    assert {name: log[name] for name in ROUTED_FIELDS} == {
        "attempts": [],
        "cache_status": "",
        "config_id": "",
        "retried": False,
        "fell_back": False,
    }


# --- in-process: the filters over rows written as the gateway writes them ----------------


@pytest.fixture
def key(transactional_db) -> str:
    return ApiKey.generate("tools", can_read_logs=True)[1]


def _ids(client, key: str, **params) -> list[int]:
    response = client.get("/v1/logs", params, headers={"x-portkey-api-key": key})
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["data"]]


@pytest.mark.django_db(transaction=True)
def test_the_list_api_filters_by_routing_and_config(client, key):
    chain = routed_log(FALLBACK_CHAIN, config_id="vision-fallback", cache_status="MISS")
    hit = routed_log(CACHE_HIT, cache_status="HIT")
    plain = make_log()
    assert _ids(client, key) == [plain.id, hit.id, chain.id]
    assert _ids(client, key, routing="retried") == [chain.id]
    assert _ids(client, key, routing="fell_back") == [chain.id]
    assert _ids(client, key, routing="cached") == [hit.id]
    assert _ids(client, key, routing="config") == [hit.id, chain.id]
    assert _ids(client, key, config="vision-fallback") == [chain.id]
    assert _ids(client, key, config="inline", routing="cached") == [hit.id]
    assert _ids(client, key, config="nowhere") == []


@pytest.mark.django_db(transaction=True)
def test_the_detail_api_gives_the_attempts_as_stored(client, key):
    chain = routed_log(FALLBACK_CHAIN, config_id="vision-fallback", cache_status="MISS")
    detail = client.get(f"/v1/logs/{chain.id}", headers={"x-portkey-api-key": key}).json()
    assert detail["attempts"] == FALLBACK_CHAIN
    assert detail["config_id"] == "vision-fallback" and detail["cache_status"] == "MISS"
    assert detail["retried"] is True and detail["fell_back"] is True


@pytest.mark.django_db(transaction=True)
def test_an_unknown_routing_filter_is_a_400(client, key):
    response = client.get("/v1/logs", {"routing": "sideways"}, headers={"x-portkey-api-key": key})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_filter" and "retried" in error["message"]
