import io

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image as PILImage

from gateway.models import Blob, blob_name
from logs_ui import thumbnails
from tests.ui.logs import DEMO_IMAGES, UrlImage, make_log, png

pytestmark = pytest.mark.django_db


def _sha(log) -> str:
    return log.images.first().blob_id


def _open(response) -> PILImage.Image:
    return PILImage.open(io.BytesIO(response.content))


def test_it_makes_a_webp_thumbnail_once_and_caches_it(staff_client, monkeypatch):
    log = make_log(images=[png(size=(1200, 600))])
    sha = _sha(log)
    url = reverse("logs_ui:thumbnail", args=[sha, 480])
    response = staff_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert "max-age=31536000" in response["Cache-Control"]
    assert "immutable" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert response["ETag"] == thumbnails.etag(sha, 480)
    assert _open(response).size == (480, 240)
    assert default_storage.exists(thumbnails.storage_name(sha, 480))

    def fail(*args, **kwargs):
        raise AssertionError("rendered twice")

    monkeypatch.setattr(thumbnails, "render", fail)
    assert staff_client.get(url).content == response.content


def test_it_answers_304_to_a_matching_etag(staff_client):
    sha = _sha(make_log(images=[png()]))
    url = reverse("logs_ui:thumbnail", args=[sha, 96])
    tag = staff_client.get(url)["ETag"]
    again = staff_client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again["ETag"] == tag and again.content == b""


def test_it_applies_exif_orientation_in_thumbnails(staff_client):
    sha = _sha(make_log(images=[(DEMO_IMAGES / "astronaut_exif6.jpg").read_bytes()]))
    stored = Blob.objects.get(pk=sha)
    assert (stored.width, stored.height, stored.exif_orientation) == (240, 320, 6)
    thumb = _open(staff_client.get(reverse("logs_ui:thumbnail", args=[sha, 96])))
    assert thumb.size == (96, 72)  # upright: wider than tall


def test_it_thumbnails_the_first_frame_of_an_animation(staff_client):
    frames = [PILImage.new("RGB", (20, 20), color) for color in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    sha = _sha(make_log(images=[out.getvalue()]))
    thumb = _open(staff_client.get(reverse("logs_ui:thumbnail", args=[sha, 96])))
    assert getattr(thumb, "n_frames", 1) == 1
    red, green, blue = thumb.convert("RGB").getpixel((10, 10))
    assert red > 200 and blue < 50


def test_it_keeps_transparency(staff_client):
    out = io.BytesIO()
    PILImage.new("RGBA", (10, 10), (0, 0, 0, 0)).save(out, "PNG")
    sha = _sha(make_log(images=[out.getvalue()]))
    thumb = _open(staff_client.get(reverse("logs_ui:thumbnail", args=[sha, 96])))
    assert thumb.mode == "RGBA" and thumb.getpixel((5, 5))[3] == 0


def test_it_serves_a_placeholder_when_pillow_cannot_decode(staff_client):
    sha = _sha(make_log(images=[png(size=(50, 50))]))
    with default_storage.open(blob_name(sha), "wb") as f:
        f.write(png(size=(50, 50))[:60])  # truncated after the header
    response = staff_client.get(reverse("logs_ui:thumbnail", args=[sha, 96]))
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Iris-Thumbnail-Error"]


def test_it_says_when_an_images_bytes_are_missing_from_storage(staff_client):
    sha = _sha(make_log(images=[png(size=(50, 50))]))
    default_storage.delete(blob_name(sha))
    thumb = staff_client.get(reverse("logs_ui:thumbnail", args=[sha, 96]))
    assert thumb.status_code == 200 and thumb.content == thumbnails.placeholder(96)
    assert "missing from storage" in thumb["X-Iris-Thumbnail-Error"]
    assert thumb["Cache-Control"] == "no-store"
    full = staff_client.get(reverse("logs_ui:image", args=[sha]))
    assert full.status_code == 404 and b"missing from blob storage" in full.content


def test_it_refuses_unknown_sizes_and_images(staff_client):
    sha = _sha(make_log(images=[png()]))
    assert staff_client.get(reverse("logs_ui:thumbnail", args=[sha, 123])).status_code == 404
    missing = reverse("logs_ui:thumbnail", args=["0" * 64, 96])
    assert staff_client.get(missing).status_code == 404
    assert staff_client.get(reverse("logs_ui:image", args=["0" * 64])).status_code == 404


def test_it_serves_the_full_image_with_safe_headers(staff_client):
    data = png(size=(9, 9))
    sha = _sha(make_log(images=[data]))
    response = staff_client.get(reverse("logs_ui:image", args=[sha]))
    assert response.status_code == 200
    assert response.content == data
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'inline; filename="{sha[:16]}.png"'
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["ETag"] == f'"{sha}"'
    download = staff_client.get(reverse("logs_ui:image", args=[sha]) + "?download=1")
    assert download["Content-Disposition"].startswith("attachment;")


def test_it_never_serves_a_non_image_inline(staff_client):
    page = b"<html><script>alert(document.cookie)</script></html>"
    log = make_log(images=[UrlImage("https://x.example/a.svg", page)])
    response = staff_client.get(reverse("logs_ui:image", args=[_sha(log)]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content == page


def test_it_serves_a_stored_svg_as_a_download(staff_client):
    sha = _sha(make_log(images=[png()]))
    Blob.objects.filter(pk=sha).update(mime="image/svg+xml")
    response = staff_client.get(reverse("logs_ui:image", args=[sha]))
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]
