"""The JSON logs API's filters, in-process (the live-server tests cover the rest)."""

import pytest
from django.core.files.storage import default_storage

from gateway.errors import GatewayError
from gateway.models import ApiKey, RequestLog
from tests.conftest import png_bytes
from tests.ui.logs import make_log

# transaction=True: the async views run their queries through gateway.db.orm, which closes
# stale connections as a request would; a test wrapped in one transaction would lose it.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def key() -> str:
    return ApiKey.generate("tools", can_read_logs=True)[1]


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


def _get(client, key: str, path: str, **params):
    response = client.get(path, params, headers={"x-portkey-api-key": key})
    assert response.status_code == 200, response.content
    return response.json()


def test_a_generation_lists_its_output_images_apart_from_what_was_sent(client, key, blob_dir):
    from tests.ui.logs import make_image_log, mask_png

    image, first, second = png_bytes((6, 4)), png_bytes((6, 4), (1, 2, 3)), png_bytes((5, 5))
    partials = [(0, 0, png_bytes((2, 2))), (0, 1, png_bytes((3, 3))), (1, 0, png_bytes((4, 4)))]
    log = make_image_log(
        "A hat on the cat",
        endpoint="images.edits",
        inputs=[image],
        mask=mask_png((6, 4)),
        outputs=[first, second],
        revised=["A top hat on a tabby cat"],
        partials=partials,
        stream=True,
    )
    body = _get(client, key, f"/v1/logs/{log.pk}")
    assert body["endpoint"] == "images.edits" and body["output_image_count"] == 2
    assert [(i["role"], i["part_index"]) for i in body["images"]] == [("input", 0), ("mask", 1)]
    made = body["output_images"]
    assert [(i["role"], i["index"], i["partial"], i["partial_index"]) for i in made] == [
        ("output", 0, False, None),
        ("output", 1, False, None),
        ("partial", 0, True, 0),
        ("partial", 0, True, 1),
        ("partial", 1, True, 0),
    ]
    assert [i["revised_prompt"] for i in made[:2]] == ["A top hat on a tabby cat", None]
    assert body["revised_prompt"] == "A top hat on a tabby cat"
    assert (made[1]["width"], made[1]["height"], made[1]["mime"]) == (5, 5, "image/png")
    expected = [first, second, *(p[2] for p in partials)]
    for item, data in zip(made, expected, strict=True):
        assert item["bytes"] == len(data) and item["content_url"].startswith("http://testserver/")
        served = client.get(item["content_url"], headers={"x-portkey-api-key": key})
        assert b"".join(served.streaming_content) == data  # byte-identical to what was made
    assert body["response_body"]["data"][0]["b64_json"] == f"iris-blob:{made[0]['sha256']}"


def test_the_list_names_each_endpoint_and_filters_by_made_images(client, key, blob_dir):
    from tests.ui.logs import make_image_log

    chat = make_log("hello")
    generation = make_image_log(outputs=[png_bytes()])
    failed = make_image_log(error=GatewayError(502, "upstream broke"))
    listed = _get(client, key, "/v1/logs")["data"]
    assert [(r["id"], r["endpoint"]) for r in listed] == [
        (failed.pk, "images.generations"),
        (generation.pk, "images.generations"),
        (chat.pk, "chat.completions"),
    ]
    assert ids(client, key, has_output_images="true") == [generation.pk]
    assert ids(client, key, has_output_images="false") == [failed.pk, chat.pk]
    assert ids(client, key, endpoint="chat.completions") == [chat.pk]
    assert ids(client, key, endpoint="images.generations", has_output_images="1") == [generation.pk]
    detail = _get(client, key, f"/v1/logs/{chat.pk}")
    assert detail["endpoint"] == "chat.completions" and detail["output_images"] == []
    assert detail["revised_prompt"] is None


def test_a_chat_replys_pictures_are_outputs_and_the_original_request_stays_whole(
    client, key, blob_dir
):
    sent, drawn = png_bytes((3, 3)), png_bytes((7, 7), (0, 0, 255))
    log = make_log("Draw", "Done.", images=[sent], reply_images=[drawn])
    body = _get(client, key, f"/v1/logs/{log.pk}", original="1")
    assert [(i["role"], i["width"]) for i in body["images"]] == [("input", 3)]
    assert [(i["role"], i["index"], i["width"]) for i in body["output_images"]] == [
        ("output", 0, 7)
    ]
    content = body["original_request"]["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "Draw"}  # not overwritten by the reply's image
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_an_svg_output_is_served_sandboxed(client, key, blob_dir):
    from tests.ui.logs import SVG_WITH_SCRIPT, make_image_log

    log = make_image_log(outputs=[SVG_WITH_SCRIPT], output_format="svg")
    [made] = _get(client, key, f"/v1/logs/{log.pk}")["output_images"]
    assert made["mime"] == "image/svg+xml" and made["error"] is None
    served = client.get(made["content_url"], headers={"x-portkey-api-key": key})
    assert b"".join(served.streaming_content) == SVG_WITH_SCRIPT
    assert "sandbox" in served["Content-Security-Policy"]
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_a_wrong_method_answers_a_json_405(key, method, blob_dir):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)  # as a real client: no CSRF page either
    log = make_log("a", images=[png_bytes()])
    image = log.images.get()
    for path in ("/v1/logs", f"/v1/logs/{log.pk}", f"/v1/logs/{log.pk}/images/{image.pk}"):
        response = getattr(client, method)(path, headers={"x-portkey-api-key": key})
        assert response.status_code == 405, (path, response.content[:200])
        assert response["Content-Type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == "method_not_allowed" and "GET" in error["message"]
        assert response["Allow"] == "GET, HEAD"
    assert RequestLog.objects.filter(pk=log.pk).exists()
