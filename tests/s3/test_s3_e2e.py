"""Blobs on S3 end to end: a real Iris (subprocess) keeps its images in a bucket of a real
S3-compatible server (moto's, over HTTP), and its logs UI, thumbnails, PDF pages and dataset
exports read them back from there."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import uuid

import httpx
import pytest
from PIL import Image as PILImage

from gateway.models import blob_name
from tests.conftest import png_bytes
from tests.exports.zips import read_export
from tests.s3.conftest import PASSWORD
from tests.test_chat_documents import pdf_bytes


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def send(iris, upstream, parts: list[dict], trace: str = "") -> dict:
    """A chat request through Iris with these content parts; its log record once written."""
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": parts}]}
    headers = iris.headers(
        **{
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"{upstream.url}/v1",
            "authorization": "Bearer sk-test",
            "x-portkey-trace-id": trace or f"s3-{uuid.uuid4().hex[:8]}",
        }
    )
    answer = httpx.post(f"{iris.url}/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return iris.log(answer.headers["x-iris-request-id"])


def image_part(data: bytes, mime: str = "image/png") -> dict:
    return {"type": "image_url", "image_url": {"url": data_uri(data, mime)}}


def login(iris) -> httpx.Client:
    if not getattr(iris, "admin", False):
        iris.manage(
            "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"
        )
        iris.admin = True
    client = httpx.Client(base_url=iris.url, timeout=30)
    page = client.get("/logs/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    form = {"username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": token}
    assert client.post("/logs/login/", data=form).status_code == 302
    return client


@pytest.fixture
def ui(iris_s3):
    client = login(iris_s3)
    yield client
    client.close()


def test_a_requests_images_are_stored_in_the_bucket_named_by_sha256(iris_s3, moto_s3, fake_openai):
    photo = png_bytes(size=(64, 48), color=(10, 200, 90))
    log = send(iris_s3, fake_openai, [{"type": "text", "text": "what?"}, image_part(photo)])
    sha = hashlib.sha256(photo).hexdigest()
    assert [img["sha256"] for img in log["images"]] == [sha]
    assert moto_s3.get(iris_s3.bucket, blob_name(sha)) == photo
    # No local copy: the blob folder under the data dir stays empty.
    local = iris_s3.data_dir / "blobs"
    assert not local.exists() or not [p for p in local.rglob("*") if p.is_file()]


def test_the_logs_ui_serves_an_image_and_its_thumbnail_from_the_bucket(
    iris_s3, moto_s3, fake_openai, ui
):
    photo = png_bytes(size=(300, 200), color=(200, 90, 10))
    log = send(iris_s3, fake_openai, [{"type": "text", "text": "ui"}, image_part(photo)])
    sha = log["images"][0]["sha256"]
    image = ui.get(f"/logs/images/{sha}/")
    assert image.status_code == 200 and image.content == photo
    assert image.headers["content-type"] == "image/png"
    thumb = ui.get(f"/logs/images/{sha}/thumb-96.webp")
    assert thumb.status_code == 200, thumb.text
    assert "x-iris-thumbnail-error" not in thumb.headers
    assert PILImage.open(io.BytesIO(thumb.content)).size == (96, 64)
    stored = moto_s3.keys(iris_s3.bucket, f"thumbs/{sha[:2]}/")
    assert [k for k in stored if k.startswith(f"thumbs/{sha[:2]}/{sha}-96-")]
    assert moto_s3.get(iris_s3.bucket, next(iter(stored))) == thumb.content
    page = ui.get(f"/logs/{log['id']}/")
    assert page.status_code == 200
    assert f"/logs/images/{sha}/thumb-480.webp" in page.text


def test_a_pdfs_pages_are_drawn_from_the_bucket_and_kept_there(iris_s3, moto_s3, fake_openai, ui):
    pdf = pdf_bytes(2)
    part = {
        "type": "file",
        "file": {"file_data": data_uri(pdf, "application/pdf"), "filename": "a.pdf"},
    }
    log = send(iris_s3, fake_openai, [{"type": "text", "text": "pdf"}, part])
    sha = hashlib.sha256(pdf).hexdigest()
    assert moto_s3.get(iris_s3.bucket, blob_name(sha)) == pdf
    assert ui.get(f"/logs/{log['id']}/").status_code == 200
    picture = ui.get(f"/logs/documents/{sha}/page-2-96.webp")
    assert picture.status_code == 200 and "x-iris-thumbnail-error" not in picture.headers
    assert PILImage.open(io.BytesIO(picture.content)).format == "WEBP"
    assert [k for k in moto_s3.keys(iris_s3.bucket, "thumbs/") if f"{sha}-p2-96-" in k]


def test_a_blob_missing_from_the_bucket_is_said_so(iris_s3, moto_s3, fake_openai, ui):
    photo = png_bytes(size=(40, 40), color=(1, 2, 250))
    log = send(iris_s3, fake_openai, [{"type": "text", "text": "gone"}, image_part(photo)])
    sha = log["images"][0]["sha256"]
    moto_s3.client().delete_object(Bucket=iris_s3.bucket, Key=blob_name(sha))
    image = ui.get(f"/logs/images/{sha}/")
    assert image.status_code == 404
    assert image.text == "The image's bytes are missing from blob storage."
    thumb = ui.get(f"/logs/images/{sha}/thumb-96.webp")
    assert thumb.status_code == 200  # a neutral tile, the header saying why
    assert thumb.headers["x-iris-thumbnail-error"] == "the bytes are missing from storage"
    assert ui.get(f"/logs/{log['id']}/").status_code == 200


def test_the_dataset_export_reads_its_images_from_the_bucket(iris_s3, fake_openai):
    photo = png_bytes(size=(33, 22), color=(90, 9, 9))
    trace = f"s3-export-{uuid.uuid4().hex[:8]}"
    send(iris_s3, fake_openai, [{"type": "text", "text": "x"}, image_part(photo)], trace)
    response = httpx.get(
        f"{iris_s3.url}/v1/logs/export",
        params={"trace_id": trace},
        headers=iris_s3.headers(),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    (line,), images, _ = read_export(response.content)
    assert images == {f"images/{hashlib.sha256(photo).hexdigest()}.png": photo}
