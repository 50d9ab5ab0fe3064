"""A config as a weapon: a regex that holds the event loop, custom hosts aimed inside the
network, a scoped key reaching past its providers, a config's api_key leaking. A docstring
that starts "Was a bug" names a bug the test reproduced before it was fixed."""

import json
import signal
import threading
import uuid

import httpx
import pytest

from tests.configs.routing import answer, attempts, chat, openai_leaf, user, wait_for
from tests.conftest import IrisServer
from tests.fakes.cued import Cued

ALLOWED_AUTH = "Bearer sk-admin-break-allowed"  # @break-allowed's key, set by SETUP below
SECRET = "sk-break-" + "9f3c1d7e5b2a4c6e8d0f1a3b5c7d9e1f"

# A bug this test exposes: it fails until the bug is fixed (then drop the marker).


def readable_logs(iris: IrisServer) -> None:
    """Let the test key read GET /v1/logs (new keys may not, by default), and wait out the
    server's key cache."""
    code = "from gateway.models import ApiKey; ApiKey.objects.update(can_read_logs=True)"
    iris.manage("shell", "-c", code)
    wait_for(
        lambda: httpx.get(f"{iris.url}/v1/logs", headers=iris.headers()).status_code == 200,
        timeout=15,
    )


@pytest.fixture(scope="module", autouse=True)
def _routing_logs_readable(routing_iris):
    readable_logs(routing_iris)


# ReDoS -------------------------------------------------------------------------------------


def test_a_catastrophic_regex_in_a_condition_does_not_freeze_the_gateway(tmp_path):
    """Was a bug: a conditional's $regex runs with Python's re on the event loop, against a value
    the client chooses (x-portkey-metadata, or any params.* of the body). "(a+)+$" against
    34 a's and a "!" backtracks for hours: one request freezes every other request, /healthz
    included. Expected: patterns limited to a safe subset (or run with a time budget off the
    loop), and the config refused at parse time otherwise. gateway/configs/conditions.py,
    _COMPARE["$regex"] and check_query (only the length is checked).
    The server is killed at the end: its regex never finishes."""
    (tmp_path / "redos").mkdir()
    iris = IrisServer(tmp_path / "redos").start()
    try:
        config = {
            "strategy": {
                "mode": "conditional",
                "conditions": [{"query": {"metadata.plan": {"$regex": "(a+)+$"}}, "then": "a"}],
                "default": "a",
            },
            "targets": [{"provider": "openai", "name": "a", "custom_host": "http://127.0.0.1:9"}],
        }
        metadata = json.dumps({"plan": "a" * 34 + "!"})
        outcome: list = []

        def hostile() -> None:
            try:
                outcome.append(chat(iris, config, headers={"x-portkey-metadata": metadata}))
            except httpx.HTTPError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=hostile, daemon=True)
        thread.start()
        frozen = False
        while thread.is_alive():  # until the hostile request is answered, or the loop stalls
            try:
                httpx.get(f"{iris.url}/healthz", timeout=10)
            except httpx.TimeoutException:
                frozen = True
                break
        assert not frozen, "/healthz got no answer while the regex ran: the event loop is held"
    finally:
        iris.stop(signal.SIGKILL)


# Custom hosts inside the network -----------------------------------------------------------


@pytest.fixture(scope="module")
def guarded_iris(tmp_path_factory):
    """GATEWAY_ALLOW_PRIVATE_NETWORKS off, as in production."""
    server = IrisServer(
        tmp_path_factory.mktemp("guarded"), GATEWAY_ALLOW_PRIVATE_NETWORKS="false"
    ).start()
    readable_logs(server)
    yield server
    server.stop()


@pytest.mark.parametrize(
    "host",
    [
        "http://127.0.0.1:{port}/v1",
        "http://localhost:{port}/v1",
        "http://[::1]:{port}/v1",
        "http://[::ffff:127.0.0.1]:{port}/v1",
        "http://2130706433:{port}/v1",  # 127.0.0.1 as one number
        "http://0x7f.1:{port}/v1",
        "http://0.0.0.0:{port}/v1",
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00::1]/v1",
        "http://10.0.0.1/v1",
    ],
)
def test_a_config_custom_host_inside_the_network_is_refused(guarded_iris, cued_openai, host):
    port = cued_openai.url.rsplit(":", 1)[1]
    leaf = {"provider": "openai", "api_key": SECRET, "custom_host": host.format(port=port)}
    response = chat(guarded_iris, leaf)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("custom_host_refused", "invalid_custom_host")
    assert cued_openai.cued.calls == []
    assert SECRET not in response.text


def test_a_fallback_of_internal_hosts_reaches_none_of_them(guarded_iris, cued_openai):
    port = cued_openai.url.rsplit(":", 1)[1]
    leaves = [
        {"provider": "openai", "api_key": SECRET, "custom_host": f"http://{h}:{port}/v1"}
        for h in ("127.0.0.1", "localhost", "[::ffff:7f00:1]")
    ]
    config = {"strategy": "fallback", "targets": leaves, "retry": {"attempts": 3}}
    response = chat(guarded_iris, config)
    assert response.status_code == 400
    assert cued_openai.cued.calls == []
    logged = attempts(guarded_iris, response.headers["x-iris-request-id"])
    assert len(logged) == 3 and all(a["skipped"] for a in logged)


# A scoped key and the admin's providers ------------------------------------------------

SETUP = """
from gateway.models import ApiKey, Provider
ApiKey.objects.filter(name__startswith="break-").delete()
Provider.objects.filter(slug__startswith="break-").delete()

def provider(slug, enabled=True):
    record = Provider(slug=slug, name=slug, kind="openai", base_url={url!r}, enabled=enabled)
    record.set_credential("api_key", "sk-admin-" + slug)
    record.save()
    return record

allowed = provider("break-allowed")
provider("break-other")
provider("break-off", enabled=False)
key, raw = ApiKey.generate("break-scoped", can_read_logs=True)
key.providers.add(allowed)
print(raw)
"""


@pytest.fixture(scope="module")
def scoped(routing_iris, cued_openai) -> dict[str, str]:
    """The headers of a key limited to @break-allowed (@break-other exists; @break-off is
    disabled)."""
    raw = routing_iris.manage("shell", "-c", SETUP.format(url=f"{cued_openai.url}/v1"))
    return {"x-portkey-api-key": raw.splitlines()[-1]}


def scoped_chat(iris, headers, config, **body) -> httpx.Response:
    body = {"model": "gpt-4o", "messages": user(), **body}
    return httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers={**headers, "x-portkey-config": json.dumps(config)},
        json=body,
        timeout=30,
    )


def test_a_scoped_key_reaches_its_own_provider_through_a_config(routing_iris, scoped, cued_openai):
    response = scoped_chat(routing_iris, scoped, {"virtual_key": "break-allowed"})
    assert answer(response)
    assert cued_openai.cued.calls[0].request.headers["authorization"] == ALLOWED_AUTH


@pytest.mark.parametrize(
    "config",
    [
        {"virtual_key": "break-other"},
        {"provider": "@break-other"},
        {"provider": "openai", "api_key": "sk-mine", "custom_host": "http://127.0.0.1:9/v1"},
        {"override_params": {"model": "@break-other/gpt-4o"}},
        {"strategy": "single", "targets": [{"override_params": {"model": "@break-other/x"}}]},
    ],
)
def test_a_scoped_key_cannot_use_a_config_to_reach_another_provider(
    routing_iris, scoped, cued_openai, config
):
    response = scoped_chat(routing_iris, scoped, config)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "provider_not_allowed"
    assert cued_openai.cued.calls == []


def test_a_fallback_past_a_forbidden_provider_lands_on_the_allowed_one(
    routing_iris, scoped, cued_openai
):
    config = {
        "strategy": "fallback",
        "targets": [{"virtual_key": "break-other"}, {"virtual_key": "break-allowed"}],
    }
    response = scoped_chat(routing_iris, scoped, config)
    assert answer(response)
    assert len(cued_openai.cued.calls) == 1
    assert cued_openai.cued.calls[0].request.headers["authorization"] == ALLOWED_AUTH


def test_a_disabled_providers_virtual_key_is_skipped(routing_iris, scoped, cued_openai):
    config = {
        "strategy": "fallback",
        "targets": [{"virtual_key": "break-off"}, {"virtual_key": "break-allowed"}],
    }
    # break-off is not in the key's scope either: a key without scope shows the skip reason.
    response = chat(routing_iris, config)
    assert answer(response)
    first, _ = attempts(routing_iris, response.headers["x-iris-request-id"])
    assert "disabled" in first["skipped"]


# A config's api_key ----------------------------------------------------------------------


def test_a_config_api_key_echoed_by_the_upstream_reaches_no_client_header_or_log(
    routing_iris, cued_openai
):
    cued_openai.cued.cue(Cued.error(401, f"Incorrect API key provided: {SECRET}."))
    trace = f"secret-{uuid.uuid4().hex}"
    leaf = openai_leaf(cued_openai, api_key=SECRET)
    config = {"strategy": "fallback", "targets": [leaf, openai_leaf(cued_openai, api_key=SECRET)]}
    failed = chat(routing_iris, leaf, headers={"x-portkey-trace-id": trace})
    assert failed.status_code == 401
    assert SECRET not in failed.text and SECRET not in str(failed.headers)
    cued_openai.cued.cue(Cued.error(500, f"upstream down for key {SECRET}"))
    fell_back = chat(routing_iris, config, headers={"x-portkey-trace-id": trace})
    assert answer(fell_back)
    for response in (failed, fell_back):
        logged = routing_iris.log(response.headers["x-iris-request-id"])
        assert SECRET not in json.dumps(logged)
    row = routing_iris.manage(
        "shell",
        "-c",
        "import json; from gateway.models import RequestLog; "
        f"print(json.dumps(list(RequestLog.objects.filter(trace_id={trace!r}).values()), "
        "default=str))",
    )
    assert SECRET not in row
    assert SECRET[-12:] not in row


def test_a_config_api_key_echoed_mid_stream_is_masked(routing_iris, cued_openai):
    leaf = openai_leaf(cued_openai, api_key=SECRET, override_params={"model": "echo-mid-stream"})
    response = chat(routing_iris, leaf, user("one two three four"), stream=True)
    assert response.status_code == 200
    assert "Overloaded" in response.text and SECRET not in response.text
    assert SECRET not in json.dumps(routing_iris.log(response.headers["x-iris-request-id"]))


def test_an_invalid_config_error_never_quotes_its_api_key(routing_iris):
    config = {"strategy": "fallback", "targets": [{"api_key": SECRET, "weight": "heavy"}]}
    response = chat(routing_iris, config)
    assert response.status_code == 400
    assert "targets[0].weight" in response.text and SECRET not in response.text
    broken = json.dumps({"api_key": SECRET})[:-1]  # not JSON
    response = chat(routing_iris, broken)
    assert response.status_code == 400 and SECRET not in response.text


# A config's credentials stay where the config sends them -----------------------------------


@pytest.fixture
def attacker():
    """An upstream a client would like a config's provider key sent to."""
    from tests.fakes import openai as openai_fake
    from tests.fakes.cued import cued_server

    with cued_server(openai_fake.handle) as server:
        yield server


def test_a_client_cannot_aim_a_configs_api_key_at_its_own_host(routing_iris, cued_openai, attacker):
    """Was a bug (review): the client's x-portkey-custom-host won over the config's, so any
    key holder could send a saved config's api_key to a host of its choosing."""
    config = openai_leaf(cued_openai, api_key="sk-config-secret-1234")
    headers = {
        "x-portkey-custom-host": f"{attacker.url}/v1",
        "x-portkey-azure-resource-name": "attacker",
    }
    response = chat(routing_iris, config, headers=headers)
    assert response.status_code == 200, response.text
    assert attacker.cued.calls == []
    [call] = cued_openai.cued.calls
    assert call.request.headers["authorization"] == "Bearer sk-config-secret-1234"


def test_a_leaf_without_credentials_goes_where_the_clients_own_key_goes(
    routing_iris, cued_openai, attacker
):
    """No api_key in the leaf: the provider key is the client's, and so may be the host."""
    config = {"provider": "openai", "custom_host": f"{cued_openai.url}/v1"}
    headers = {"x-portkey-custom-host": f"{attacker.url}/v1", "authorization": "Bearer sk-own"}
    response = chat(routing_iris, config, headers=headers)
    assert response.status_code == 200, response.text
    assert cued_openai.cued.calls == []
    [call] = attacker.cued.calls
    assert call.request.headers["authorization"] == "Bearer sk-own"
