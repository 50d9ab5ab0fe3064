"""Routing by slug over real sockets: providers configured in a real Iris's database, used by
the openai and portkey-ai SDKs with no provider key in the app."""

import base64
import json

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion
from portkey_ai import Portkey

from tests.conftest import SHARED_IMAGES
from tests.fakes import azure as fake_azure_handler
from tests.fakes import bedrock as fake_bedrock_handler

ADMIN_KEY = "sk-admin-held-openai-key-9f8e"
CAT_URI = (
    "data:image/png;base64,"
    + base64.b64encode((SHARED_IMAGES / "chelsea.png").read_bytes()).decode()
)
BEDROCK_MODEL = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"

SETUP = """
from gateway.models import ApiKey, Provider

# Idempotent: on PostgreSQL the server's database outlives a test run.
ApiKey.objects.filter(name="scoped-app").delete()
Provider.objects.filter(slug__in=["openai-prod", "off", "azure-prod", "bedrock-prod"]).delete()

def provider(secrets=None, **fields):
    record = Provider(name=fields["slug"], **fields)
    for name, value in (secrets or {{}}).items():
        record.set_credential(name, value)
    record.save()
    return record

openai_prod = provider(slug="openai-prod", kind="openai", base_url={openai!r},
    default_model="gpt-4o-mini", secrets={{"api_key": {key!r}}})
provider(slug="off", kind="openai", base_url={openai!r}, enabled=False,
    secrets={{"api_key": {key!r}}})
provider(slug="azure-prod", kind="azure-openai", base_url={azure!r},
    azure_resource_name="contoso", azure_api_version="2024-10-21",
    secrets={{"api_key": {azure_key!r}}})
provider(slug="bedrock-prod", kind="bedrock", base_url={bedrock!r}, aws_region="us-east-1",
    secrets={{"aws_access_key_id": {aws_id!r}, "aws_secret_access_key": {aws_secret!r},
             "aws_session_token": {aws_token!r}}})
key, raw = ApiKey.generate("scoped-app", can_read_logs=False)
key.providers.add(openai_prod)
print(raw)
"""


@pytest.fixture(scope="module")
def scoped_key(iris, fake_openai, fake_azure, fake_bedrock) -> str:
    """Providers as an admin would set them up; returns a key limited to @openai-prod."""
    code = SETUP.format(
        openai=f"{fake_openai.url}/v1",
        key=ADMIN_KEY,
        azure=f"{fake_azure.url}/openai",
        azure_key=fake_azure_handler.API_KEY,
        bedrock=fake_bedrock.url,
        aws_id=fake_bedrock_handler.ACCESS_KEY_ID,
        aws_secret=fake_bedrock_handler.SECRET_ACCESS_KEY,
        aws_token=fake_bedrock_handler.SESSION_TOKEN,
    )
    return iris.manage("shell", "-c", code).splitlines()[-1]  # after the shell's banner


def server_query(iris, code: str) -> object:
    """What `code` prints as JSON, run against the server's database (SQLite or PostgreSQL)."""
    return json.loads(iris.manage("shell", "-c", f"import json\n{code}").splitlines()[-1])


def logged(iris, request_id: str) -> dict:
    """provider, provider_slug and model of a request's log row."""
    iris.log(request_id)  # waits for the background writer
    code = (
        "from gateway.models import RequestLog\n"
        f"row = RequestLog.objects.values('provider', 'provider_slug', 'model')"
        f".get(request_id={request_id!r})\n"
        "print(json.dumps(row))"
    )
    return server_query(iris, code)


def raw_rows(iris, table: str) -> str:
    """Every row of a table as the database holds it."""
    code = (
        "from django.db import connection\n"
        "cursor = connection.cursor()\n"
        f"cursor.execute('SELECT * FROM {table}')\n"
        "print(json.dumps(cursor.fetchall(), default=str))"
    )
    return json.dumps(server_query(iris, code))


def post(iris, body: dict, **headers: str) -> httpx.Response:
    return httpx.post(f"{iris.url}/v1/chat/completions", json=body, headers=iris.headers(**headers))


def hello(model: str = "gpt-4o", text: str = "hello") -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


def with_image(text: str, **image: str) -> list[dict]:
    image_part = {"type": "image_url", "image_url": {"url": CAT_URI, **image}}
    return [{"role": "user", "content": [{"type": "text", "text": text}, image_part]}]


@pytest.mark.parametrize("stream", [False, True])
def test_it_serves_the_portkey_sdk_with_provider_at_slug(iris, scoped_key, fake_openai, stream):
    portkey = Portkey(api_key=iris.key, base_url=f"{iris.url}/v1", provider="@openai-prod")
    messages = with_image("portkey slug")
    result = portkey.chat.completions.create(model="gpt-4o", messages=messages, stream=stream)
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in result if c.choices)
    else:
        text = result.choices[0].message.content
    assert text == "I see 1 image(s). You said: portkey slug"
    sent = fake_openai.last("POST")
    assert sent.headers["authorization"] == f"Bearer {ADMIN_KEY}"
    assert sent.json()["messages"][0]["content"][1]["image_url"]["url"] == CAT_URI


def test_it_serves_the_openai_sdk_with_the_provider_header(iris, scoped_key, fake_openai):
    client = openai.OpenAI(
        base_url=f"{iris.url}/v1",
        api_key=iris.key,  # the gateway key as Bearer: the app holds no provider key at all
        default_headers={"x-portkey-provider": "@openai-prod"},
        max_retries=0,
    )
    raw = client.chat.completions.with_raw_response.create(**hello(text="openai sdk"))
    completion = raw.parse()
    ChatCompletion.model_validate(completion.model_dump())
    assert completion.choices[0].message.content == "I see 0 image(s). You said: openai sdk"
    assert fake_openai.last("POST").headers["authorization"] == f"Bearer {ADMIN_KEY}"
    log = logged(iris, raw.headers["x-iris-request-id"])
    assert log == {"provider": "openai", "provider_slug": "openai-prod", "model": "gpt-4o"}


def test_it_takes_the_virtual_key_header_as_an_alias(iris, scoped_key, fake_openai):
    portkey = Portkey(api_key=iris.key, base_url=f"{iris.url}/v1", virtual_key="openai-prod")
    result = portkey.chat.completions.create(**hello(text="virtual"))
    assert result.choices[0].message.content == "I see 0 image(s). You said: virtual"
    assert fake_openai.last("POST").headers["authorization"] == f"Bearer {ADMIN_KEY}"
    response = post(iris, hello(text="header"), **{"x-portkey-virtual-key": "@openai-prod"})
    assert response.status_code == 200


def test_it_routes_a_model_written_at_slug_slash_model(iris, scoped_key, fake_openai):
    body = {"model": "@openai-prod/gpt-4.1-mini", "messages": with_image("both", detail="low")}
    response = post(iris, body)
    assert response.status_code == 200, response.text
    sent = fake_openai.last("POST").json()
    assert sent["model"] == "gpt-4.1-mini"
    assert sent["messages"][0]["content"][1]["image_url"] == {"url": CAT_URI, "detail": "low"}
    log = logged(iris, response.headers["x-iris-request-id"])
    assert log == {"provider": "openai", "provider_slug": "openai-prod", "model": "gpt-4.1-mini"}


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (
            {"messages": [{"role": "user", "content": "no model"}]},
            {"x-portkey-provider": "@openai-prod"},
        ),
        (hello(model=""), {"x-portkey-virtual-key": "openai-prod"}),
        (hello(model="@openai-prod"), {}),
    ],
)
def test_it_fills_in_the_default_model(iris, scoped_key, fake_openai, body, headers):
    response = post(iris, body, **headers)
    assert response.status_code == 200, response.text
    assert fake_openai.last("POST").json()["model"] == "gpt-4o-mini"


def test_it_still_needs_a_model_without_a_slug(iris, scoped_key):
    response = post(
        iris, {"messages": [{"role": "user", "content": "x"}]}, **{"x-portkey-provider": "openai"}
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "model"


def test_it_answers_404_for_an_unknown_slug(iris, scoped_key):
    client = openai.OpenAI(
        base_url=f"{iris.url}/v1",
        api_key=iris.key,
        default_headers={"x-portkey-provider": "@nope"},
        max_retries=0,
    )
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(**hello())
    assert caught.value.body == {
        "message": "No provider @nope is configured in the admin.",
        "type": "not_found_error",
        "param": "x-portkey-provider",
        "code": "provider_not_found",
    }
    assert post(iris, hello(model="@nope/gpt-4o")).status_code == 404


def test_it_answers_400_for_a_disabled_provider(iris, scoped_key):
    response = post(iris, hello(), **{"x-portkey-provider": "@off"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The provider @off is disabled in the admin."


@pytest.mark.parametrize(
    ("model", "headers", "message"),
    [
        (
            "@azure-prod/gpt-4o",
            {"x-portkey-provider": "@openai-prod"},
            "the model names @azure-prod but the headers name @openai-prod",
        ),
        (
            "gpt-4o",
            {"x-portkey-provider": "@openai-prod", "x-portkey-virtual-key": "azure-prod"},
            "x-portkey-provider and x-portkey-virtual-key name @azure-prod and @openai-prod",
        ),
        (
            "gpt-4o",
            {"x-portkey-provider": "@openai-prod", "x-portkey-custom-host": "http://evil.test"},
            "x-portkey-custom-host cannot be combined with a provider @slug",
        ),
    ],
)
def test_it_refuses_conflicting_routes(iris, scoped_key, model, headers, message):
    response = post(iris, hello(model=model), **headers)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"Conflicting routing: {message}."


def test_it_routes_azure_with_the_records_resource_and_the_clients_deployment(
    iris, scoped_key, fake_azure
):
    portkey = Portkey(
        api_key=iris.key,
        base_url=f"{iris.url}/v1",
        provider="@azure-prod",
        azure_deployment_id="vision-prod",  # the record leaves the deployment to the app
    )
    result = portkey.chat.completions.create(**hello(text="azure slug"))
    assert result.choices[0].message.content == "I see 0 image(s). You said: azure slug"
    sent = fake_azure.last("POST")
    assert sent.headers["api-key"] == fake_azure_handler.API_KEY
    assert sent.path == "/openai/deployments/vision-prod/chat/completions?api-version=2024-10-21"


def test_it_signs_bedrock_with_the_records_keys_whatever_region_the_client_says(
    iris, scoped_key, fake_bedrock
):
    response = post(
        iris,
        hello(model=f"@bedrock-prod/{BEDROCK_MODEL}", text="bedrock slug"),
        **{"x-portkey-aws-region": "eu-west-1"},  # ignored: the record decides the host
    )
    assert response.status_code == 200, response.text
    assert "bedrock slug" in response.json()["choices"][0]["message"]["content"]
    sent = fake_bedrock.last("POST")
    assert fake_bedrock_handler.ACCESS_KEY_ID in sent.headers["authorization"]
    assert sent.headers["x-amz-security-token"] == fake_bedrock_handler.SESSION_TOKEN


def test_it_limits_a_key_to_its_providers(iris, scoped_key, fake_openai):
    headers = {"x-portkey-api-key": scoped_key}
    ok = httpx.post(
        f"{iris.url}/v1/chat/completions",
        json=hello(),
        headers={**headers, "x-portkey-provider": "@openai-prod"},
    )
    assert ok.status_code == 200
    for extra in (
        {"x-portkey-provider": "@azure-prod"},
        {"x-portkey-provider": "@not-even-there"},
        {
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"{fake_openai.url}/v1",
            "authorization": "Bearer sk-the-apps-own-key",
        },
    ):
        refused = httpx.post(
            f"{iris.url}/v1/chat/completions", json=hello(), headers={**headers, **extra}
        )
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert (
            error["code"] == "provider_not_allowed" and "may use: @openai-prod" in error["message"]
        )
    logs = httpx.get(f"{iris.url}/v1/logs", headers=headers)
    assert logs.status_code == 403 and logs.json()["error"]["code"] == "logs_not_allowed"


def test_the_servers_database_holds_no_plain_secret(iris, scoped_key):
    rows = raw_rows(iris, "gateway_provider")
    assert "openai-prod" in rows  # the right table, read raw
    for secret in (
        ADMIN_KEY,
        fake_azure_handler.API_KEY,
        fake_bedrock_handler.ACCESS_KEY_ID,
        fake_bedrock_handler.SECRET_ACCESS_KEY,
        fake_bedrock_handler.SESSION_TOKEN,
    ):
        assert secret not in rows
    logs = raw_rows(iris, "gateway_requestlog")
    assert ADMIN_KEY not in logs and fake_bedrock_handler.SECRET_ACCESS_KEY not in logs
    assert ADMIN_KEY not in iris.log_path.read_text()


# --- in-process: settings and caches of this process ------------------------------------


@pytest.fixture
async def local(settings, written_logs, fake_openai):
    """An in-process gateway with no key required, and a provider at the fake's address."""
    from asgiref.sync import sync_to_async

    from gateway import http
    from gateway.models import Provider

    settings.GATEWAY_REQUIRE_API_KEY = False

    @sync_to_async
    def make(**fields) -> Provider:
        record = Provider(slug="local", name="Local", kind="openai", **fields)
        record.base_url = f"{fake_openai.url}/v1"
        record.set_credential("api_key", ADMIN_KEY)
        record.save()
        return record

    yield make
    await http.close_sessions()  # the pooled sessions belong to this test's event loop


async def call(async_client, body: dict, **headers: str):
    return await async_client.post(
        "/v1/chat/completions", body, content_type="application/json", headers=headers
    )


async def test_it_trusts_an_admins_private_base_url_but_not_a_clients(
    async_client, local, settings, fake_openai
):
    settings.GATEWAY_ALLOW_PRIVATE_NETWORKS = False
    await local(default_model="gpt-4o")
    routed = await call(async_client, hello(), **{"x-portkey-provider": "@local"})
    assert routed.status_code == 200, routed.content
    direct = await call(
        async_client,
        hello(),
        **{"x-portkey-provider": "openai", "x-portkey-custom-host": f"{fake_openai.url}/v1"},
    )
    assert direct.status_code == 400 and direct.json()["error"]["code"] == "custom_host_refused"


async def test_it_sees_a_provider_disabled_in_this_process_at_once(async_client, local):
    record = await local()
    headers = {"x-portkey-provider": "@local"}
    assert (await call(async_client, hello(), **headers)).status_code == 200  # cached now
    record.enabled = False
    await record.asave()
    refused = await call(async_client, hello(), **headers)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "provider_disabled"


async def test_it_masks_an_admins_key_that_an_upstream_echoes(async_client, local, written_logs):
    from gateway.models import Provider, RequestLog

    await local()
    # fake_openai's rate-limit message stands in for an upstream echoing the key it got.
    echoed = "Rate limit reached for requests"
    record = await Provider.objects.aget(slug="local")
    record.set_credential("api_key", echoed)
    await record.asave()
    response = await call(async_client, hello(model="fail-429"), **{"x-portkey-provider": "@local"})
    assert response.status_code == 429
    assert response.json()["error"]["message"] == "Rat…ests"
    written_logs()
    log = await RequestLog.objects.aget(request_id=response["x-iris-request-id"])
    assert log.provider_slug == "local" and log.error_message == "Rat…ests"
    assert echoed not in json.dumps(log.response_body)


async def test_it_masks_a_key_that_an_upstream_echoes_mid_stream(async_client, local, written_logs):
    from gateway.models import RequestLog

    record = await local()
    admins_key = "sk-admin-held-secret-0123456789"
    record.set_credential("api_key", admins_key)
    await record.asave()
    body = {**hello(model="echo-mid-stream", text="one two three four"), "stream": True}
    response = await call(async_client, body, **{"x-portkey-provider": "@local"})
    assert response.status_code == 200
    sent = b"".join([chunk async for chunk in response.streaming_content]).decode()
    assert "Overloaded (Bearer sk-…6789)" in sent and admins_key not in sent
    written_logs()
    log = await RequestLog.objects.aget(request_id=response["x-iris-request-id"])
    assert log.error_message == "Overloaded (Bearer sk-…6789)"
    assert admins_key not in json.dumps(log.response_body)


async def test_a_stream_that_iris_cannot_relay_ends_with_an_error_and_is_logged(
    async_client, local, written_logs, monkeypatch
):
    from gateway.models import RequestLog
    from gateway.providers import openai as openai_provider

    await local()

    def broken_feed(self, data):
        raise KeyError("a translator bug")

    monkeypatch.setattr(openai_provider.Stream, "feed", broken_feed)
    body = {**hello(), "stream": True}
    response = await call(async_client, body, **{"x-portkey-provider": "@local"})
    sent = b"".join([chunk async for chunk in response.streaming_content]).decode()
    assert '"code":"bad_stream"' in sent and "[DONE]" not in sent
    written_logs()
    log = await RequestLog.objects.aget(request_id=response["x-iris-request-id"])
    assert log.error_message == "Iris could not relay the upstream's stream."
