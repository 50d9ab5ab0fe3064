"""Issue 17: GET /v1/logs/{id} and its images answer to the x-iris-request-id too.

The views are checked through this module's routes (the `<str:...>` gateway/api/urls.py
needs, see the report of issue 17); the last test asks it of the real routes.
"""

import pytest
from django.urls import include, path

from gateway.api import logs
from gateway.models import ApiKey
from tests.conftest import png_bytes
from tests.ui.logs import make_log

pytestmark = pytest.mark.django_db(transaction=True)

urlpatterns = [
    path("v1/logs/<str:log_id>", logs.log_detail, name="api-log"),
    path("v1/logs/<str:log_id>/images/<int:image_id>", logs.log_image, name="api-log-image"),
    path("", include("gateway.urls")),
]


@pytest.fixture
def key() -> str:
    return ApiKey.generate("tools", can_read_logs=True)[1]


def _get(client, key: str, url: str):
    return client.get(url, headers={"x-portkey-api-key": key})


@pytest.mark.urls(__name__)
def test_a_log_is_found_by_its_request_id_or_its_number(client, key, blob_dir):
    log = make_log("a", images=[png_bytes()])
    make_log("another")
    for ref in (log.pk, log.request_id, log.request_id.upper()):
        response = _get(client, key, f"/v1/logs/{ref}")
        assert response.status_code == 200, (ref, response.content)
        assert response.json()["request_id"] == log.request_id
    image = log.images.get()
    by_request_id = _get(client, key, f"/v1/logs/{log.request_id}/images/{image.pk}")
    assert by_request_id.status_code == 200
    assert b"".join(by_request_id.streaming_content) == png_bytes()


@pytest.mark.urls(__name__)
def test_anything_else_is_a_json_404(client, key, blob_dir):
    log = make_log("a", images=[png_bytes()])
    image = log.images.get()
    other = make_log("b")
    for ref in ("f" * 31, "g" * 32, "1" * 25, "nope"):
        response = _get(client, key, f"/v1/logs/{ref}")
        assert response.status_code == 404, ref
        assert response.json()["error"]["code"] == "log_not_found"
    # An image is found only under its own record, by either name.
    for ref in (other.pk, other.request_id):
        response = _get(client, key, f"/v1/logs/{ref}/images/{image.pk}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "image_not_found"


def test_the_real_routes_take_the_request_id(client, key, blob_dir):
    log = make_log("a")
    assert _get(client, key, f"/v1/logs/{log.request_id}").status_code == 200
