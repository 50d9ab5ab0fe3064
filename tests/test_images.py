import base64
import io
import os

import pytest
from django.conf import settings
from PIL import Image as PILImage

from gateway.images import Image, ImageError, TooManyPixels, decode_data_uri, sniff, to_png
from tests.conftest import SHARED_IMAGES, png_bytes
from tests.fakes.big_images import huge_png, huge_tiff


def test_it_decodes_a_data_uri_and_keeps_its_prefix(tiny_png):
    prefix, data = decode_data_uri("data:image/png;base64," + base64.b64encode(tiny_png).decode())
    assert (prefix, data) == ("data:image/png;base64,", tiny_png)


def test_it_tolerates_line_breaks_and_missing_padding(tiny_png):
    encoded = base64.b64encode(tiny_png).decode().rstrip("=")
    wrapped = "\n".join(encoded[i : i + 20] for i in range(0, len(encoded), 20))
    assert decode_data_uri("data:image/png;base64," + wrapped)[1] == tiny_png


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("data:image/png;base64,%%%%", "not valid base64"),
        ("data:image/png,abc", "not base64-encoded"),
        ("data:image/png;base64,", "holds no data"),
        ("data;base64,abc", "not a valid data URI"),
    ],
)
def test_it_refuses_malformed_data_uris(uri, says):
    with pytest.raises(ImageError, match=says):
        decode_data_uri(uri)


def test_it_sniffs_the_real_type_not_the_declared_one(tiny_jpeg):
    # Declared as PNG in the URI, but the bytes are JPEG: the bytes win.
    assert sniff(tiny_jpeg).mime == "image/jpeg"
    assert (sniff(tiny_jpeg).width, sniff(tiny_jpeg).height) == (5, 7)


@pytest.mark.parametrize(
    ("name", "mime", "size"),
    [
        ("chelsea.png", "image/png", (451, 300)),
        ("rocket.jpg", "image/jpeg", (640, 427)),
        ("text.png", "image/png", (448, 172)),
        ("no_time_for_that_tiny.gif", "image/gif", (14, 25)),
    ],
)
def test_it_reads_the_shared_images(name, mime, size):
    info = sniff((SHARED_IMAGES / name).read_bytes())
    assert (info.mime, (info.width, info.height)) == (mime, size)


def test_it_counts_animation_frames():
    assert sniff((SHARED_IMAGES / "no_time_for_that_tiny.gif").read_bytes()).frames == 24


def test_it_flags_exif_rotation():
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90° CW when displayed
    out = io.BytesIO()
    PILImage.new("RGB", (8, 4)).save(out, "JPEG", exif=exif.tobytes())
    assert sniff(out.getvalue()).exif_orientation == 6


def test_it_reads_png_rotation_from_the_header_without_decoding_pixels(monkeypatch):
    exif = PILImage.Exif()
    exif[0x0112] = 8
    out = io.BytesIO()
    PILImage.new("RGB", (8, 4)).save(out, "PNG", exif=exif.tobytes())  # eXIf before IDAT
    plain = io.BytesIO()
    PILImage.new("RGB", (8, 4)).save(plain, "PNG")

    def no_decoding(self):
        raise AssertionError("sniff decoded the pixels")

    monkeypatch.setattr(PILImage.Image, "load", no_decoding)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decoding)
    assert sniff(out.getvalue()).exif_orientation == 8
    assert sniff(plain.getvalue()).exif_orientation is None


def test_it_recognises_heic_by_its_brand():
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    assert sniff(heic).mime == "image/heic"


@pytest.mark.parametrize("data", [b"hello", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, b""])
def test_it_refuses_what_is_not_an_image(data):
    with pytest.raises(ImageError, match="not an image"):
        sniff(data)


def test_it_sniffs_a_huge_image_from_its_header_alone(monkeypatch):
    # 169 million pixels, past twice Pillow's limit: still read (proxying needs no decoding).
    huge = huge_png(13_000, 13_000)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", _no_decoding)
    info = sniff(huge)
    assert (info.mime, info.width, info.height, info.problem) == ("image/png", 13_000, 13_000, "")
    assert PILImage.MAX_IMAGE_PIXELS == settings.GATEWAY_MAX_IMAGE_PIXELS  # set on purpose


def test_it_refuses_to_convert_past_the_pixel_limit_without_decoding(monkeypatch):
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", _no_decoding)
    for huge in (huge_png(13_000, 13_000), huge_tiff(13_000, 13_000)):
        with pytest.raises(TooManyPixels, match=r"13000×13000 px, more than the 40,000,000"):
            to_png(huge, max_pixels=40_000_000)


def test_it_converts_a_big_jpeg_at_a_reduced_scale_to_fit_the_limit():
    jpeg = png_bytes((1600, 1200), fmt="JPEG")
    assert PILImage.open(io.BytesIO(to_png(jpeg, max_pixels=400_000))).size == (400, 300)
    assert PILImage.open(io.BytesIO(to_png(jpeg, max_pixels=2_000_000))).size == (1600, 1200)
    with pytest.raises(TooManyPixels):
        to_png(jpeg, max_pixels=20_000)  # even 1/8 scale (200×150) is too many


def test_it_converts_bmp_and_the_first_gif_frame_to_png():
    bmp = png_bytes((6, 6), fmt="BMP")
    assert sniff(to_png(bmp, max_pixels=100)).mime == "image/png"
    gif = to_png((SHARED_IMAGES / "no_time_for_that_tiny.gif").read_bytes(), max_pixels=1000)
    assert (sniff(gif).mime, sniff(gif).frames) == ("image/png", 1)


def _cut(data: bytes, keep: int) -> bytes:
    return data[:keep]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (_cut(png_bytes((64, 48)), 60), "the PNG has no IEND chunk at its end"),
        (_cut(png_bytes((64, 48), fmt="JPEG"), -10), "the JPEG has no end-of-image marker"),
        (_cut(png_bytes((64, 48), fmt="GIF"), -5), "the GIF has no trailer"),
        (_cut(png_bytes((64, 48), fmt="BMP"), -5), "the BMP holds 9265 of the 9270 bytes"),
    ],
)
def test_it_flags_a_truncated_image_from_its_end_marker(data, says):
    assert sniff(data).problem.startswith(f"the image looks truncated: {says}")
    img = Image(message=0, part=0, origin="base64")
    img.describe(data)  # still an image: it goes upstream, flagged
    assert says in img.problem and img.data is data


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"])
def test_it_flags_no_whole_image(fmt):
    assert sniff(png_bytes((64, 48), fmt=fmt)).problem == ""


def test_it_allows_bytes_after_the_end_of_a_jpeg():
    # A motion photo appends its video after the JPEG's end; an EXIF thumbnail's own end
    # marker, before the scan, does not count.
    exif = PILImage.Exif()
    exif[0x0112] = 1
    photo = png_bytes((64, 48), fmt="JPEG", exif=exif.tobytes())
    assert sniff(photo + b"ftypmp42" + bytes(500)).problem == ""


def test_images_of_one_url_share_one_bytes_object(tiny_png):
    first, second = (Image(message=0, part=n, origin="url", url="https://x/a.png") for n in (0, 1))
    first.describe(tiny_png)
    second.adopt(first)
    assert second.data is first.data and second.sha256 == first.sha256
    assert (second.mime, second.width, second.height) == ("image/png", 4, 3)


def _no_decoding(self):
    raise AssertionError("the pixels were decoded")


def test_it_decodes_a_large_payload():
    data = os.urandom(7 * 1024 * 1024)
    prefix, decoded = decode_data_uri("data:image/png;base64," + base64.b64encode(data).decode())
    assert decoded == data
