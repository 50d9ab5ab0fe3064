"""The JSON logs API's filters, in-process (the live-server tests cover the rest)."""

import pytest
from django.core.files.storage import default_storage

from gateway.models import ApiKey, RequestLog
from tests.conftest import png_bytes
from tests.ui.logs import make_log

# transaction=True: the async views run their queries through gateway.db.orm, which closes
# stale connections as a request would; a test wrapped in one transaction would lose it.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def key() -> str:
    return ApiKey.generate("tools")[1]


def ids(client, key: str, **params) -> list[int]:
    response = client.get("/v1/logs", params, headers={"x-portkey-api-key": key})
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["data"]]


def test_it_filters_by_prompt_and_by_image(client, key, blob_dir):
    cat = png_bytes(color=(9, 9, 9))
    plain = make_log("a", images=[cat])
    prompted = make_log("b")
    RequestLog.objects.filter(pk=prompted.pk).update(prompt="product-tagger", prompt_version=2)
    assert ids(client, key, prompt="product-tagger") == [prompted.pk]
    sha = plain.images.get().blob_id
    assert ids(client, key, image=sha) == [plain.pk]
    assert ids(client, key) == [prompted.pk, plain.pk]


def test_it_refuses_a_bad_filter_in_openai_shape(client, key):
    response = client.get("/v1/logs", {"since": "yesterday"}, headers={"x-portkey-api-key": key})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_filter"


def test_it_says_when_an_images_bytes_are_missing_from_storage(client, key, blob_dir):
    log = make_log("a", images=[png_bytes()])
    image = log.images.get()
    default_storage.delete(image.blob.storage_name)
    headers = {"x-portkey-api-key": key}
    response = client.get(f"/v1/logs/{log.pk}/images/{image.pk}", headers=headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "image_missing"
    detail = client.get(f"/v1/logs/{log.pk}", {"original": "1"}, headers=headers)
    assert detail.status_code == 200
    body = detail.json()
    assert body["original_request"] is None and "missing" in body["original_request_error"]


def test_a_list_page_is_one_query_without_the_bodies():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gateway.api.logs import _list
    from gateway.logquery import LogFilter

    for _ in range(3):
        make_log()
    with CaptureQueriesContext(connection) as queries:
        listed = _list(LogFilter(), 50)
    assert len(listed["data"]) == 3 and listed["data"][0]["created_at"]
    [query] = queries.captured_queries
    assert "request_body" not in query["sql"] and "search_text" not in query["sql"]
