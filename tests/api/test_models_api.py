"""GET /v1/models over real sockets: the official SDK lists what a key can reach, each model
as a request names it (`@slug/model`), a provider's own list fetched with its stored key:
OpenAI's, Anthropic's and Google's lists and Bedrock's ListFoundationModels (SigV4 checked
by the fake Bedrock's own check), each from a fake that checks the provider's auth headers.
Then the pure list_models_request / parse_models of each provider module."""

import json

import botocore.session
import httpx
import openai
import pytest
from anthropic.types import ModelInfo
from botocore.validate import ParamValidator

from gateway import providers
from gateway.providers.base import Target
from tests.conftest import IrisServer
from tests.fakes import bedrock as fake_bedrock
from tests.fakes.server import FakeServer, Received, Reply

ADMIN_KEY = "sk-admin-held-key-for-listing"
ANTHROPIC_KEY = "sk-ant-admin-held-key"
GOOGLE_KEY = "AIza-admin-held-google-key"

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
provider(slug="claude", kind="anthropic", base_url={anthropic!r},
    secrets={{"api_key": {anthropic_key!r}}})
provider(slug="gem", kind="google", base_url={google!r}, default_model="gemini-2.5-flash",
    secrets={{"api_key": {google_key!r}}})
provider(slug="rock", kind="bedrock", base_url={bedrock!r}, aws_region="us-east-1",
    secrets={{"aws_access_key_id": {aws_id!r}, "aws_secret_access_key": {aws_secret!r},
              "aws_session_token": {aws_token!r}}})
provider(slug="rock-key", kind="bedrock", base_url={bedrock!r},
    secrets={{"api_key": {bedrock_key!r}}})
provider(slug="azure", kind="azure-openai", base_url={upstream!r}, azure_resource_name="iris",
    azure_deployment_id="vision-prod", secrets={{"api_key": {key!r}}})
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


ANTHROPIC_MODELS = {
    "data": [
        {
            "type": "model",
            "id": "claude-opus-4-5-20251101",
            "display_name": "Claude Opus 4.5",
            "created_at": "2025-11-24T00:00:00Z",
            "lifecycle": "active",
            "max_input_tokens": 200000,
            "max_tokens": 64000,
        },
        {
            "type": "model",
            "id": "claude-haiku-4-5-20251001",
            "display_name": "Claude Haiku 4.5",
            "created_at": "2025-10-15T00:00:00Z",
            "lifecycle": "deprecated",
            "deprecated_at": "2026-10-01T00:00:00Z",
        },
        {  # kept in the list as a record; requests naming it fail
            "type": "model",
            "id": "claude-2.1",
            "display_name": "Claude 2.1",
            "created_at": "2023-11-21T00:00:00Z",
            "lifecycle": "retired",
            "deprecated_at": "2024-07-21T00:00:00Z",
            "retires_at": "2025-07-21T00:00:00Z",
        },
    ],
    "has_more": False,
    "first_id": "claude-opus-4-5-20251101",
    "last_id": "claude-2.1",
}


def anthropic_lists(request: Received) -> Reply:
    """Anthropic's GET /v1/models: x-api-key and anthropic-version, or its 401."""
    if request.method != "GET" or request.path != "/v1/models?limit=1000":
        return Reply.json(404, {"type": "error", "error": {"type": "not_found_error"}})
    if request.headers.get("x-api-key") != ANTHROPIC_KEY or "authorization" in request.headers:
        error = {"type": "authentication_error", "message": "invalid x-api-key"}
        return Reply.json(401, {"type": "error", "error": error})
    if request.headers.get("anthropic-version") != "2023-06-01":
        error = {"type": "invalid_request_error", "message": "anthropic-version: required"}
        return Reply.json(400, {"type": "error", "error": error})
    return Reply.json(200, ANTHROPIC_MODELS)


GOOGLE_MODELS = {
    "models": [
        {
            "name": "models/gemini-2.5-flash",
            "version": "001",
            "displayName": "Gemini 2.5 Flash",
            "inputTokenLimit": 1048576,
            "outputTokenLimit": 65536,
            "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent"],
        },
        {
            "name": "models/gemini-embedding-001",
            "version": "001",
            "supportedGenerationMethods": ["embedContent", "countTextTokens"],
        },
        {
            "name": "models/imagen-4.0-generate-001",
            "version": "001",
            "supportedGenerationMethods": ["predict"],
        },
    ],
}


def google_lists(request: Received) -> Reply:
    """Gemini's models.list: the key in x-goog-api-key only, or Google's refusal."""
    if request.method != "GET" or request.path != "/v1beta/models?pageSize=1000":
        return Reply.json(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
    if request.headers.get("x-goog-api-key") != GOOGLE_KEY:
        error = {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}
        return Reply.json(400, {"error": error})
    return Reply.json(200, GOOGLE_MODELS)


def summary(model_id: str, outputs: list[str], kinds: list[str]) -> dict:
    return {
        "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model_id}",
        "modelId": model_id,
        "modelName": model_id,
        "providerName": model_id.split(".")[0],
        "inputModalities": ["TEXT"],
        "outputModalities": outputs,
        "responseStreamingSupported": True,
        "customizationsSupported": [],
        "inferenceTypesSupported": kinds,
        "modelLifecycle": {"status": "ACTIVE"},
    }


BEDROCK_MODELS = {
    "modelSummaries": [
        summary("amazon.nova-pro-v1:0", ["TEXT"], ["ON_DEMAND"]),
        summary("amazon.nova-canvas-v1:0", ["IMAGE"], ["ON_DEMAND", "PROVISIONED"]),
        summary("amazon.titan-embed-text-v2:0", ["EMBEDDING"], ["ON_DEMAND"]),
        summary("anthropic.claude-3-haiku-20240307-v1:0:200k", ["TEXT"], ["PROVISIONED"]),
    ]
}


def bedrock_lists(request: Received) -> Reply:
    """ListFoundationModels: SigV4 (recomputed by the fake Bedrock's check) or an API key."""
    if request.method != "GET" or request.path != "/foundation-models?byInferenceType=ON_DEMAND":
        return fake_bedrock.error(404, "UnknownOperationException", "Unknown operation")
    try:
        fake_bedrock.check_auth(request)
    except fake_bedrock.Invalid as exc:
        return fake_bedrock.error(*exc.args)
    return Reply.json(200, BEDROCK_MODELS)


@pytest.fixture(scope="module")
def lists():
    with FakeServer(upstream) as server:
        yield server


@pytest.fixture(scope="module")
def others():
    with (
        FakeServer(anthropic_lists) as anthropic,
        FakeServer(google_lists) as google,
        FakeServer(bedrock_lists) as bedrock,
    ):
        yield {"anthropic": anthropic, "google": google, "bedrock": bedrock}


@pytest.fixture(scope="module")
def server(tmp_path_factory, lists, others):
    iris = IrisServer(tmp_path_factory.mktemp("iris-models")).start()
    code = SETUP.format(
        upstream=f"{lists.url}/v1",
        key=ADMIN_KEY,
        anthropic=f"{others['anthropic'].url}/v1",
        anthropic_key=ANTHROPIC_KEY,
        google=others["google"].url,
        google_key=GOOGLE_KEY,
        bedrock=others["bedrock"].url,
        aws_id=fake_bedrock.ACCESS_KEY_ID,
        aws_secret=fake_bedrock.SECRET_ACCESS_KEY,
        aws_token=fake_bedrock.SESSION_TOKEN,
        bedrock_key=fake_bedrock.API_KEY,
    )
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
    assert ids == [
        "@azure/vision-prod",  # the deployment: Azure's data plane lists no deployments
        "@claude/claude-opus-4-5-20251101",
        "@claude/claude-haiku-4-5-20251001",
        "@gem/gemini-2.5-flash",  # the default model, listed too: once
        "@gem/imagen-4.0-generate-001",
        "@lister/gpt-4o",
        "@lister/gpt-x",
        "@quiet/claude-sonnet-4-5",
        "@rock/amazon.nova-pro-v1:0",
        "@rock/amazon.nova-canvas-v1:0",
        "@rock-key/amazon.nova-pro-v1:0",
        "@rock-key/amazon.nova-canvas-v1:0",
    ]
    # the failing provider is said, not silently left out
    assert page.headers["x-iris-models-unavailable"] == "broken"
    calls = [r for r in lists.received if r.path == "/v1/models"]
    again = client(server, server.key).models.with_raw_response.list()
    assert [r for r in lists.received if r.path == "/v1/models"] == calls  # cached
    # the failure is remembered too: a provider that is down costs one try, not one per call
    assert sum(r.path == "/v1/broken/models" for r in lists.received) == 1
    assert again.headers["x-iris-models-unavailable"] == "broken"
    assert (
        again.headers["x-portkey-cache-status"] == "DISABLED"
        and again.headers["x-portkey-trace-id"]
    )


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


def test_each_provider_was_asked_with_its_own_auth(server, others):
    client(server, server.key).models.list()
    assert others["anthropic"].last().headers["x-api-key"] == ANTHROPIC_KEY
    assert others["google"].last().headers["x-goog-api-key"] == GOOGLE_KEY
    auths = {r.headers["authorization"].split(" ")[0] for r in others["bedrock"].received}
    assert auths == {"AWS4-HMAC-SHA256", "Bearer"}  # the keys signed, the API key as sent


def test_a_model_of_a_listed_provider_is_retrieved(server):
    model = client(server, server.key).models.retrieve("@rock/amazon.nova-pro-v1:0")
    assert (model.id, model.owned_by) == ("@rock/amazon.nova-pro-v1:0", "rock")


# --- the pure functions of each provider module ---------------------------------------------


def test_anthropic_asks_its_first_page_with_its_headers():
    target = Target("anthropic", api_key="sk-ant-x", options={"anthropic-version": "2024-01-01"})
    upstream = providers.get("anthropic").list_models_request(target)
    assert (upstream.method, upstream.url) == (
        "GET",
        "https://api.anthropic.com/v1/models?limit=1000",
    )
    assert upstream.headers["x-api-key"] == "sk-ant-x"
    assert upstream.headers["anthropic-version"] == "2024-01-01"
    assert "authorization" not in upstream.headers
    parse = providers.get("anthropic").parse_models
    assert parse(ANTHROPIC_MODELS) == [
        "claude-opus-4-5-20251101",
        "claude-haiku-4-5-20251001",
    ]
    assert parse({"data": [{"display_name": "no id"}, "junk"]}) == [] == parse([])
    for item in ANTHROPIC_MODELS["data"]:  # the fake answers the SDK's ModelInfo
        assert ModelInfo.model_validate(item).type == "model"


def test_google_asks_with_the_key_in_a_header_and_keeps_what_iris_serves():
    google = providers.get("google")
    upstream = google.list_models_request(Target("google", api_key="AIza-x"))
    assert upstream.url == "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000"
    assert upstream.headers["x-goog-api-key"] == "AIza-x" and "key=" not in upstream.url
    assert google.parse_models(GOOGLE_MODELS) == ["gemini-2.5-flash", "imagen-4.0-generate-001"]
    odd = {"models": [{"name": "models/x"}, {"supportedGenerationMethods": ["predict"]}]}
    assert google.parse_models(odd) == [] == google.parse_models({"error": {}})


AWS = {
    "aws-access-key-id": fake_bedrock.ACCESS_KEY_ID,
    "aws-secret-access-key": fake_bedrock.SECRET_ACCESS_KEY,
    "aws-region": "eu-west-3",
}


def test_bedrock_asks_the_control_plane_host_signed_for_bedrock():
    bedrock = providers.get("bedrock")
    upstream = bedrock.list_models_request(Target("bedrock", options=AWS))
    assert upstream.method == "GET"
    assert upstream.url == (
        "https://bedrock.eu-west-3.amazonaws.com/foundation-models?byInferenceType=ON_DEMAND"
    )
    credential = upstream.headers["authorization"].split("Credential=")[1].split(",")[0]
    assert credential.endswith("/eu-west-3/bedrock/aws4_request")
    runtime = Target(
        "bedrock", base_url="https://bedrock-runtime-fips.us-east-1.amazonaws.com", options=AWS
    )
    assert bedrock.list_models_request(runtime).url.startswith(
        "https://bedrock-fips.us-east-1.amazonaws.com/foundation-models?"
    )
    keyed = bedrock.list_models_request(Target("bedrock", base_url="http://proxy", api_key="k"))
    assert keyed.headers["authorization"] == "Bearer k"
    for broken in ({**AWS, "aws-region": ""}, {**AWS, "aws-region": "x.evil.com/"}, {}):
        with pytest.raises(ValueError):
            bedrock.list_models_request(Target("bedrock", options=broken))


def test_bedrock_keeps_the_models_invokable_by_id_that_iris_serves():
    parse = providers.get("bedrock").parse_models
    assert parse(BEDROCK_MODELS) == ["amazon.nova-pro-v1:0", "amazon.nova-canvas-v1:0"]
    assert parse({"modelSummaries": [{"modelId": 5}, "junk"]}) == [] == parse(None)


def test_bedrocks_summaries_are_botocores_shape():
    """The fake's answer is what ListFoundationModels returns, so the parser is tried on it."""
    service = botocore.session.get_session().get_service_model("bedrock")
    shape = service.operation_model("ListFoundationModels").output_shape
    report = ParamValidator().validate(json.loads(json.dumps(BEDROCK_MODELS)), shape)
    assert not report.has_errors(), report.generate_report()


def test_azure_lists_nothing_upstream():
    assert not hasattr(providers.get("azure-openai"), "list_models_request")
