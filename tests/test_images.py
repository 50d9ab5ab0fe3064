import base64
import io
import os

import pytest
from PIL import Image as PILImage

from gateway.images import ImageError, decode_data_uri, sniff, to_png
from tests.conftest import SHARED_IMAGES, png_bytes


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


def test_it_refuses_a_decompression_bomb():
    bomb = png_bytes((20_000, 20_000), mode="L")
    with pytest.raises(ImageError, match="too large to decode safely"):
        sniff(bomb)


def test_it_converts_bmp_and_the_first_gif_frame_to_png():
    bmp = png_bytes((6, 6), fmt="BMP")
    assert sniff(to_png(bmp)).mime == "image/png"
    gif = to_png((SHARED_IMAGES / "no_time_for_that_tiny.gif").read_bytes())
    assert (sniff(gif).mime, sniff(gif).frames) == ("image/png", 1)


def test_it_decodes_a_large_payload():
    data = os.urandom(7 * 1024 * 1024)
    prefix, decoded = decode_data_uri("data:image/png;base64," + base64.b64encode(data).decode())
    assert decoded == data
