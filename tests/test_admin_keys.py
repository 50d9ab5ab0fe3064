"""Gateway API keys in the admin: shown once, revoked at once, limited to providers."""

import datetime as dt
import re

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse
from django.utils import timezone

from gateway import auth
from gateway.models import ApiKey, Provider, hash_key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_cache(written_logs):
    auth._cache.clear()


def create(admin_client, **fields) -> tuple[str, str]:
    """Add a key through the admin; (the raw key on the page, the page)."""
    data = {"name": "checkout-app", "can_read_logs": "on", "expires_at_0": "", "expires_at_1": ""}
    data.update(fields)
    response = admin_client.post(reverse("admin:gateway_apikey_add"), data)
    assert response.status_code == 200, response.content[:2000]
    html = response.content.decode()
    return re.search(r"iris-[A-Za-z0-9_-]{40,}", html)[0], html


def test_it_shows_a_new_key_once_and_stores_only_its_hash(admin_client):
    raw, html = create(admin_client)
    assert "it is shown only this once" in html
    key = ApiKey.objects.get(name="checkout-app")
    assert key.key_hash == hash_key(raw) and key.prefix == raw[:12]
    assert raw not in str(ApiKey.objects.filter(pk=key.pk).values().get())
    change = admin_client.get(reverse("admin:gateway_apikey_change", args=[key.pk])).text
    listing = admin_client.get(reverse("admin:gateway_apikey_changelist")).text
    assert raw not in change and raw not in listing and f"{key.prefix}…" in listing


def test_it_keeps_the_new_key_page_out_of_caches(admin_client):
    response = admin_client.post(
        reverse("admin:gateway_apikey_add"),
        {"name": "k", "expires_at_0": "", "expires_at_1": ""},
    )
    assert "no-store" in response["cache-control"]


def test_it_creates_a_key_limited_to_providers_without_logs_access(admin_client):
    prod = Provider.objects.create(slug="openai-prod", name="Prod", kind="openai")
    raw, html = create(admin_client, providers=[prod.pk], can_read_logs="")
    assert "It may use only: <code>@openai-prod</code>." in html
    assert "It may not read the logs API." in html
    key = ApiKey.objects.get(key_hash=hash_key(raw))
    assert key.allowed_slugs == {"openai-prod"} and key.can_read_logs is False


async def test_it_revokes_keys_and_the_gateway_refuses_them_at_once(admin_client, async_client):
    key, raw = await sync_to_async(ApiKey.generate)("doomed", can_read_logs=True)
    headers = {"x-portkey-api-key": raw}
    assert (await async_client.get("/v1/logs", headers=headers)).status_code == 200  # cached now
    response = await sync_to_async(admin_client.post)(
        reverse("admin:gateway_apikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
        follow=True,
    )
    assert "Revoked 1 key(s)" in response.content.decode()
    refused = await async_client.get("/v1/logs", headers=headers)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    await key.arefresh_from_db()
    assert key.revoked_at is not None


async def test_it_refuses_an_expired_key(async_client):
    past = timezone.now() - dt.timedelta(seconds=1)
    _, raw = await sync_to_async(ApiKey.generate)("old", expires_at=past)
    response = await async_client.get("/v1/logs", headers={"x-portkey-api-key": raw})
    assert response.status_code == 401


async def test_it_lets_only_keys_with_the_flag_read_the_logs_api(async_client):
    _, reader = await sync_to_async(ApiKey.generate)("reader", can_read_logs=True)
    _, app = await sync_to_async(ApiKey.generate)("app", can_read_logs=False)
    for path in ("/v1/logs", "/v1/logs/1", "/v1/logs/1/images/1"):
        refused = await async_client.get(path, headers={"x-portkey-api-key": app})
        assert refused.status_code == 403
        assert refused.json()["error"] == {
            "message": "The gateway API key 'app' may not read the logs API.",
            "type": "permission_error",
            "param": None,
            "code": "logs_not_allowed",
        }
    allowed = await async_client.get("/v1/logs", headers={"x-portkey-api-key": reader})
    assert allowed.status_code == 200


def test_it_lists_keys_by_status(admin_client):
    ApiKey.generate("live")
    ApiKey.generate("gone", revoked_at=timezone.now())
    ApiKey.generate("stale", expires_at=timezone.now() - dt.timedelta(days=1))
    url = reverse("admin:gateway_apikey_changelist")
    for status, name in (("active", "live"), ("revoked", "gone"), ("expired", "stale")):
        page = admin_client.get(url, {"status": status})
        assert [k.name for k in page.context["cl"].result_list] == [name]
        assert f'<td class="field-status">{status}</td>' in page.content.decode()
