"""The foundation: serve, create_api_key and /healthz, as an operator uses them."""

import http.client

import httpx
import pytest
from django.core.management import call_command

from gateway.models import ApiKey, hash_key


@pytest.mark.django_db
def test_create_api_key_prints_the_key_once_and_stores_its_hash(capsys):
    call_command("create_api_key", "checkout-app")
    out, err = capsys.readouterr()
    raw = out.strip()
    assert raw.startswith("iris-") and "cannot be shown again" in err
    key = ApiKey.objects.get(name="checkout-app")
    assert key.key_hash == hash_key(raw) and raw not in str(key.__dict__)


def test_serve_prints_the_urls_and_answers_healthz(iris):
    output = iris.log_path.read_text()
    for line in (
        f"proxy (OpenAI-compatible): {iris.url}/v1",
        f"logs UI:                   {iris.url}/logs/",
        f"admin:                     {iris.url}/admin/",
    ):
        assert line in output
    health = httpx.get(f"{iris.url}/healthz")
    assert health.status_code == 200
    body = health.json()
    assert {k: body[k] for k in ("status", "database", "storage", "log")} == {
        "status": "ok",
        "database": "ok",
        "storage": "ok",
        "log": "ok",
    }
    assert body["log_writer"]["set_aside"] == 0 and body["log_writer"]["waiting_for"] is None


def test_pages_need_a_login_and_the_api_needs_a_key(iris):
    logs = httpx.get(f"{iris.url}/logs/")
    assert logs.status_code == 302 and "login" in logs.headers["location"]
    api = httpx.get(f"{iris.url}/v1/logs")
    assert api.status_code == 401 and api.json()["error"]["code"] == "missing_api_key"


def test_the_api_handler_serves_nothing_but_the_api(iris):
    # /v1/ runs without sessions or CSRF; it must not become a back door to other views.
    connection = http.client.HTTPConnection("127.0.0.1", iris.port)
    connection.request("GET", "/v1/../admin/")  # sent as is (httpx would normalise it)
    assert connection.getresponse().status == 404
    assert httpx.get(f"{iris.url}/v1/admin/").status_code == 404


@pytest.mark.django_db
def test_healthz_reports_a_broken_storage(client, settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker / "blobs")},
        },
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["storage"].startswith("error")


@pytest.mark.django_db
def test_healthz_counts_response_cache_failures_without_failing(client, monkeypatch):
    from gateway.configs import cache

    monkeypatch.setitem(cache.failures, "get", 3)
    response = client.get("/healthz")
    assert response.status_code == 200  # a cache outage costs hits, never answers
    assert response.json()["response_cache_failures"]["get"] == 3
