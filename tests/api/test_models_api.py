"""GET /v1/models over real sockets: the official SDK lists what a key can reach, each model
as a request names it (`@slug/model`), a provider's own list fetched with its stored key."""

import httpx
import openai
import pytest

from tests.conftest import IrisServer
from tests.fakes.server import FakeServer, Received, Reply

ADMIN_KEY = "sk-admin-held-key-for-listing"

SETUP = """
from gateway.models import ApiKey, Provider

def provider(secrets=None, **fields):
    record = Provider(name=fields["slug"], **fields)
    for name, value in (secrets or {{}}).items():
        record.set_credential(name, value)
    record.save()
    return record

lister = provider(slug="lister", kind="openai", base_url={upstream!r}, default_model="gpt-4o",
    secrets={{"api_key": {key!r}}})
provider(slug="broken", kind="openai", base_url={upstream!r} + "/broken",
    secrets={{"api_key": {key!r}}})
provider(slug="quiet", kind="anthropic", default_model="claude-sonnet-4-5")
provider(slug="off", kind="openai", base_url={upstream!r}, default_model="gpt-4o", enabled=False)
key, raw = ApiKey.generate("lister-only")
key.providers.add(lister)
print(raw)
"""


def upstream(request: Received) -> Reply:
    if request.path != "/v1/models":
        return Reply.json(500, {"error": {"message": "down"}})
    if request.headers.get("authorization") != f"Bearer {ADMIN_KEY}":
        return Reply.json(401, {"error": {"message": "bad key"}})
    models = [{"id": m, "object": "model", "created": 1, "owned_by": "openai"} for m in ("gpt-x",)]
    return Reply.json(200, {"object": "list", "data": models})


@pytest.fixture(scope="module")
def lists():
    with FakeServer(upstream) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, lists):
    iris = IrisServer(tmp_path_factory.mktemp("iris-models")).start()
    code = SETUP.format(upstream=f"{lists.url}/v1", key=ADMIN_KEY)
    iris.scoped_key = iris.manage("shell", "-c", code).splitlines()[-1]
    yield iris
    iris.stop()


def client(server, key: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{server.url}/v1", api_key="unused", default_headers={"x-portkey-api-key": key}
    )


def test_the_sdk_lists_every_reachable_model_as_a_request_names_it(server, lists):
    page = client(server, server.key).models.with_raw_response.list()
    ids = [m.id for m in page.parse()]
    assert ids == ["@lister/gpt-4o", "@lister/gpt-x", "@quiet/claude-sonnet-4-5"]
    # the failing provider is said, not silently left out
    assert page.headers["x-iris-models-unavailable"] == "broken"
    calls = [r for r in lists.received if r.path == "/v1/models"]
    client(server, server.key).models.list()
    assert [r for r in lists.received if r.path == "/v1/models"] == calls  # cached


def test_a_scoped_key_lists_only_its_providers(server):
    ids = [m.id for m in client(server, server.scoped_key).models.list()]
    assert ids == ["@lister/gpt-4o", "@lister/gpt-x"]


def test_one_model_is_retrieved_by_its_id_or_is_a_404(server):
    sdk = client(server, server.key)
    model = sdk.models.retrieve("@lister/gpt-x")
    assert (model.id, model.owned_by) == ("@lister/gpt-x", "lister")
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.models.retrieve("@off/gpt-4o")  # disabled: not reachable
    assert caught.value.body["code"] == "model_not_found"


def test_listing_needs_a_gateway_key_and_a_get(server):
    assert httpx.get(f"{server.url}/v1/models").status_code == 401
    response = httpx.post(f"{server.url}/v1/models", headers=server.headers())
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def test_unknown_paths_answer_json_naming_the_endpoints(server):
    response = httpx.get(f"{server.url}/v1/nonesuch", headers=server.headers())
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "unknown_url"
    assert "POST /v1/images/generations" in error["message"]
    assert "GET /v1/models" in error["message"]
