"""Test connection in the admin: a tiny request through the real proxy, against real fakes."""

import asyncio
import base64
import io

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from PIL import Image

from gateway import http
from gateway.admin import probe
from gateway.models import Provider, RequestLog
from tests.fakes import azure as fake_azure_handler

OPENAI_KEY = "sk-test-connection-key-0000-e5f6"
WRONG_AZURE_KEY = "ffffffffffffffffffffffffffffffff"


@pytest.fixture(autouse=True)
def close_probe_sessions(monkeypatch):
    """Outside an ASGI server, async_to_sync runs each test connection on a loop of its own
    that ends with it: close the pooled sessions made on that loop before it goes."""
    run_all = probe._run_all

    async def run_all_then_close(*args):
        try:
            return await run_all(*args)
        finally:
            for session in http._sessions.pop(asyncio.get_running_loop(), {}).values():
                await session.close()

    monkeypatch.setattr(probe, "_run_all", run_all_then_close)


def provider(**fields) -> Provider:
    secrets = fields.pop("secrets", {})
    record = Provider(name="Test", **fields)
    for name, value in secrets.items():
        record.set_credential(name, value)
    record.save()
    return record


def press_test_connection(admin_client, record: Provider) -> list[str]:
    url = reverse("admin:gateway_provider_test", args=[record.pk])
    response = admin_client.post(url)
    assert response.status_code == 302
    assert response["location"] == reverse("admin:gateway_provider_change", args=[record.pk])
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_reports_a_working_openai_compatible_server(admin_client, fake_openai, written_logs):
    record = provider(
        slug="local",
        kind="openai",
        base_url=f"{fake_openai.url}/v1",
        default_model="gpt-4o-mini",
        secrets={"api_key": OPENAI_KEY},
    )
    [message] = press_test_connection(admin_client, record)
    assert message.startswith("@local: connection OK. gpt-4o-mini replied “I see 0 image(s).")
    sent = fake_openai.last("POST")
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent.json()["model"] == "gpt-4o-mini"
    written_logs()
    log = RequestLog.objects.get(provider_slug="local")
    assert log.status_code == 200 and log.metadata == {"iris": "test-connection", "user": "admin"}
    assert OPENAI_KEY not in str(log.request_headers)


def test_it_sends_a_small_image_to_a_vision_provider(admin_client, fake_azure, written_logs):
    record = provider(
        slug="azure",
        kind="azure-openai",
        base_url=f"{fake_azure.url}/openai",
        azure_resource_name="contoso",
        azure_deployment_id="vision-prod",
        secrets={"api_key": fake_azure_handler.API_KEY},
    )
    [message] = press_test_connection(admin_client, record)
    assert "connection OK. vision-prod replied “I see 1 image(s)." in message
    content = fake_azure.last("POST").json()["messages"][0]["content"]
    png = base64.b64decode(content[1]["image_url"]["url"].split(",", 1)[1])
    assert Image.open(io.BytesIO(png)).size == (32, 32)


def test_it_shows_the_providers_error_for_a_bad_key(admin_client, fake_azure, written_logs):
    record = provider(
        slug="azure-bad",
        kind="azure-openai",
        base_url=f"{fake_azure.url}/openai",
        azure_resource_name="contoso",
        azure_deployment_id="vision-prod",
        secrets={"api_key": WRONG_AZURE_KEY},
    )
    [message] = press_test_connection(admin_client, record)
    assert message.startswith("@azure-bad: test failed. HTTP 401: Access denied due to invalid")
    assert WRONG_AZURE_KEY not in message
    written_logs()
    assert RequestLog.objects.get(provider_slug="azure-bad").status_code == 401


def test_it_shows_a_missing_key_as_the_upstream_says_it(admin_client, fake_openai, written_logs):
    record = provider(slug="nokey", kind="openai", base_url=f"{fake_openai.url}/v1")
    record.default_model = "gpt-4o"
    record.save()
    [message] = press_test_connection(admin_client, record)
    assert message == "@nokey: test failed. HTTP 401: You didn't provide an API key."


def test_it_masks_a_secret_that_an_upstream_echoes(admin_client, fake_openai, written_logs):
    # fake_openai answers the rate-limit error for this model; a key inside the message is
    # simulated by a provider whose key is the very text of that message.
    echoed = "Rate limit reached for requests"
    record = provider(
        slug="echo",
        kind="openai",
        base_url=f"{fake_openai.url}/v1",
        default_model="fail-429",
        secrets={"api_key": echoed},
    )
    [message] = press_test_connection(admin_client, record)
    assert message == "@echo: test failed. HTTP 429: Rat…ests"
    written_logs()
    log = RequestLog.objects.get(provider_slug="echo")
    assert echoed not in log.error_message and echoed not in str(log.response_body)


def test_it_needs_a_default_model(admin_client):
    record = provider(slug="nomodel", kind="anthropic", secrets={"api_key": OPENAI_KEY})
    [message] = press_test_connection(admin_client, record)
    assert (
        message == "@nomodel: test failed. Set a default model first: the test request needs one."
    )


def test_it_tests_several_providers_from_the_list(admin_client, fake_openai, written_logs):
    good = provider(
        slug="good",
        kind="openai",
        base_url=f"{fake_openai.url}/v1",
        default_model="gpt-4o",
        secrets={"api_key": OPENAI_KEY},
    )
    bad = provider(slug="bad", kind="openai", base_url=f"{fake_openai.url}/v1", default_model="m")
    response = admin_client.post(
        reverse("admin:gateway_provider_changelist"),
        {"action": "test_connection", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    messages = sorted(str(m) for m in response.context["messages"])
    assert messages[0].startswith("@bad: test failed. HTTP 401")
    assert messages[1].startswith("@good: connection OK.")


def test_it_refuses_a_get_and_users_without_change_permission(
    admin_client, client, django_user_model
):
    record = provider(slug="p", kind="openai", default_model="m")
    url = reverse("admin:gateway_provider_test", args=[record.pk])
    assert admin_client.get(url).status_code == 403
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(viewer)
    assert client.post(url).status_code == 403
