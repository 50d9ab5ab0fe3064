"""Small pieces joining issue 18's parts: healthz shows the invalidation bus, the image view
tells storage that fails from bytes that are gone, rotating credentials drops cached routes."""

import time

import pytest
from django.core.management import call_command
from django.urls import reverse

from gateway import replicas, targets
from gateway.log import blobs
from gateway.models import Provider
from tests.ui.logs import make_log, png

pytestmark = pytest.mark.django_db


def test_healthz_shows_the_cache_invalidation_bus(client):
    shown = client.get("/healthz").json()["cache_invalidation"]
    assert shown == replicas.status()
    assert shown["backend"] in {"poll", "postgres", "redis"} and "failures" in shown


def test_the_image_view_says_storage_is_unavailable_not_missing(staff_client, monkeypatch):
    sha = make_log(images=[png(size=(40, 40))]).images.first().blob_id

    def failing(name):
        raise TimeoutError("read timed out")  # an OSError, as an S3 timeout is

    monkeypatch.setattr(blobs, "read", failing)
    response = staff_client.get(reverse("logs_ui:image", args=[sha]))
    assert response.status_code == 503
    assert b"Blob storage is unavailable (TimeoutError)" in response.content


def test_rotating_credentials_drops_the_cached_routes(settings):
    provider = Provider(slug="rot", name="Rot", kind="openai")
    provider.set_credential("api_key", "sk-rotate-0000000000")
    provider.save()
    targets._routes["rot"] = (None, time.monotonic() + 60)
    call_command("rotate_credentials")
    assert "rot" not in targets._routes
