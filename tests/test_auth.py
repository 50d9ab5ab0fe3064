"""Gateway keys on /v1/: missing, wrong, revoked and expired keys get OpenAI-style 401s."""

import datetime as dt

import pytest
from django.utils import timezone

from gateway import auth
from gateway.models import ApiKey, RequestLog, hash_key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_cache(written_logs):
    auth._cache.clear()


def call(async_client, **headers):
    return async_client.post(
        "/v1/chat/completions", b"{}", content_type="application/json", headers=headers
    )


async def test_a_missing_key_gets_401_with_an_openai_error_body(async_client):
    response = await call(async_client)
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "message": "Missing gateway API key. Send it in the x-portkey-api-key header.",
            "type": "authentication_error",
            "param": None,
            "code": "missing_api_key",
        }
    }


async def test_a_wrong_key_gets_401_and_is_logged(async_client, written_logs):
    response = await call(async_client, **{"x-portkey-api-key": "iris-wrong"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    written_logs()
    log = await RequestLog.objects.aget(request_id=response["x-iris-request-id"])
    assert log.status_code == 401 and log.request_headers["x-portkey-api-key"] == "[redacted]"


@pytest.mark.parametrize("state", ["revoked", "expired"])
async def test_revoked_and_expired_keys_are_refused(async_client, state):
    key, raw = await _make_key()
    past = timezone.now() - dt.timedelta(minutes=1)
    await ApiKey.objects.filter(pk=key.pk).aupdate(
        **({"revoked_at": past} if state == "revoked" else {"expires_at": past})
    )
    response = await call(async_client, **{"x-portkey-api-key": raw})
    assert response.status_code == 401


async def test_a_valid_key_gets_past_auth_in_either_header(async_client):
    key, raw = await _make_key()
    for headers in ({"x-portkey-api-key": raw}, {"authorization": f"Bearer {raw}"}):
        response = await call(async_client, **headers)
        assert response.status_code == 400  # past auth: now the body is what is wrong
        assert response.json()["error"]["code"] == "missing_required_parameter"


async def test_keys_can_be_made_optional(async_client, settings):
    settings.GATEWAY_REQUIRE_API_KEY = False
    response = await call(async_client)
    assert response.status_code == 400


@pytest.mark.django_db
def test_only_the_hash_is_stored():
    key, raw = ApiKey.generate("app")
    assert raw.startswith("iris-") and len(raw) > 40
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert raw not in str(stored) and stored["key_hash"] == hash_key(raw)


async def _make_key():
    from asgiref.sync import sync_to_async

    return await sync_to_async(ApiKey.generate)("tests")


async def test_a_bug_of_ours_still_answers_in_openai_shape_and_is_logged(
    async_client, settings, monkeypatch, written_logs
):
    settings.GATEWAY_REQUIRE_API_KEY = False

    def broken(raw, **options):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr("gateway.service.parse_chat", broken)
    response = await call(async_client)
    assert response.status_code == 500
    assert response.json()["error"] == {
        "message": "Internal gateway error (ZeroDivisionError).",
        "type": "api_error",
        "param": None,
        "code": "internal_error",
    }
    written_logs()
    log = await RequestLog.objects.aget(request_id=response["x-iris-request-id"])
    assert log.status_code == 500 and log.error_type == "api_error"
