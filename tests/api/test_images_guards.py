"""The Images API under hostile or unlucky input, over real sockets: images given by URL are
judged once fetched, a multipart body cannot smuggle fields upstream, a client that hangs up
mid-stream leaves a record with what it had, and `@slug/model` renames the model sent."""

import base64
import json

import httpx

from tests.api.test_images_openai_e2e import openai_headers
from tests.conftest import SHARED_IMAGES
from tests.fakes import openai_images as fake_images
from tests.faults import leave_mid_stream

CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()  # 451x300 PNG


def posts(fake_openai) -> int:
    return sum(r.method == "POST" for r in fake_openai.received)


def edit_json(iris, fake_openai, body: dict) -> httpx.Response:
    return httpx.post(
        f"{iris.url}/v1/images/edits",
        headers=openai_headers(iris, fake_openai),
        json=body,
        timeout=30,
    )


def test_a_mask_given_by_url_is_judged_once_fetched(iris, fake_openai):
    before = posts(fake_openai)
    body = {
        "model": "gpt-image-2",
        "prompt": "a hat",
        "images": [{"image_url": "data:image/png;base64," + base64.b64encode(CAT).decode()}],
        "mask": {"image_url": f"{fake_openai.url}/images/coffee.png"},  # 600x400: not 451x300
    }
    response = edit_json(iris, fake_openai, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "mask_size_mismatch"
    assert posts(fake_openai) == before
    log = iris.log(response.headers["x-iris-request-id"])
    assert log["status_code"] == 400


def test_an_image_url_that_is_no_image_is_a_400(iris, fake_openai):
    before = posts(fake_openai)
    body = {
        "model": "gpt-image-2",
        "prompt": "a hat",
        "images": [{"image_url": f"{fake_openai.url}/images/nonesuch.png"}],
    }
    response = edit_json(iris, fake_openai, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "image_fetch_failed"
    assert posts(fake_openai) == before


def multipart(fields: list[tuple[str, bytes]], filename: str | None = "cat.png") -> bytes:
    parts = []
    for name, value in fields:
        disposition = f'form-data; name="{name}"'
        if filename and name.startswith("image"):
            disposition += f'; filename="{filename}"'
        parts.append(f"--b\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value)
    return b"\r\n".join(parts) + b"\r\n--b--\r\n"


def post_multipart(iris, fake_openai, content: bytes) -> httpx.Response:
    headers = openai_headers(iris, fake_openai) | {
        "content-type": "multipart/form-data; boundary=b"
    }
    return httpx.post(f"{iris.url}/v1/images/edits", headers=headers, content=content, timeout=30)


def test_a_field_name_cannot_smuggle_a_part_upstream(iris, fake_openai):
    before = posts(fake_openai)
    fields = [
        ("prompt", b"a hat"),
        ("model", b"gpt-image-2"),
        ('a\\"; filename=\\"evil.png', b"x"),
        ("image", CAT),
    ]
    response = post_multipart(iris, fake_openai, multipart(fields))
    assert response.status_code == 400, response.text
    assert posts(fake_openai) == before


def test_too_many_files_is_a_400_not_a_500(iris, fake_openai):
    fields = [("prompt", b"a hat"), *[("image[]", CAT[:100])] * 101]
    response = post_multipart(iris, fake_openai, multipart(fields))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_body"


def test_a_client_that_hangs_up_mid_stream_leaves_a_record_with_its_partial(iris, fake_openai):
    fake_images.RELEASE.clear()
    body = json.dumps(
        {"model": "gpt-image-2", "prompt": "[hold] gone", "stream": True, "partial_images": 1}
    ).encode()
    headers = openai_headers(iris, fake_openai) | {"content-type": "application/json"}
    path = "/v1/images/generations"
    request_id = leave_mid_stream(iris.port, path, headers, body, b"partial_image_index")
    try:  # the upstream still holds its last event: Iris must notice the client left first
        log = iris.log(request_id)
    finally:
        fake_images.RELEASE.set()
    assert log["error_type"] == "client_disconnected"
    partials = [img for img in log["output_images"] if img["partial"]]
    assert len(partials) == 1 and partials[0]["mime"] == "image/png"


def test_a_slug_renames_the_model_in_json_and_multipart(iris, fake_openai):
    code = (
        "from gateway.models import Provider\n"
        "Provider.objects.filter(slug='images-prod').delete()\n"
        "p = Provider(slug='images-prod', name='images', kind='openai', "
        f"base_url={fake_openai.url + '/v1'!r})\n"
        "p.set_credential('api_key', 'sk-admin-images-key')\n"
        "p.save()\n"
    )
    iris.manage("shell", "-c", code)
    response = httpx.post(
        f"{iris.url}/v1/images/generations",
        headers=iris.headers(),
        json={"model": "@images-prod/gpt-image-2", "prompt": "a boat", "size": "1024x1024"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert fake_openai.last("POST").json()["model"] == "gpt-image-2"
    fields = [("prompt", b"a hat"), ("model", b"@images-prod/gpt-image-2"), ("image", CAT)]
    headers = iris.headers() | {"content-type": "multipart/form-data; boundary=b"}
    response = httpx.post(
        f"{iris.url}/v1/images/edits",
        headers=headers,
        content=multipart(fields),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    sent = fake_openai.last("POST").body
    assert b'name="model"\r\n\r\ngpt-image-2\r\n' in sent
    assert b"@images-prod" not in sent
