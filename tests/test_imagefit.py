"""gateway/imagefit.py: the resize auto-fit sends, on real images (no Django, no sockets)."""

import io

import pytest
from PIL import Image as PILImage
from PIL import ImageCms, JpegImagePlugin

from gateway import imagefit
from gateway.images import Image, ImageError, TooManyPixels, sniff
from tests.conftest import SHARED_IMAGES, png_bytes

MAX = 40_000_000


def photo(size=(2000, 1500), fmt="JPEG", **save) -> bytes:
    """A real photograph (hubble_deep_field.jpg) at `size`."""
    img = PILImage.open(SHARED_IMAGES / "hubble_deep_field.jpg").convert("RGB").resize(size)
    out = io.BytesIO()
    img.save(out, fmt, **save)
    return out.getvalue()


def opened(data: bytes) -> PILImage.Image:
    img = PILImage.open(io.BytesIO(data))
    img.load()
    return img


@pytest.mark.parametrize(
    ("size", "seen", "expected"),
    [
        ((4000, 3000), (1024, 768), (1024, 768)),  # OpenAI's tiles: 2048 then 768 short side
        ((1000, 1000), (1000, 1000), None),  # seen whole: sent whole
        ((500, 400), (768, 768), None),  # never upscaled
        ((3000, 500), (2048, 500), (2048, 500)),  # one side only
    ],
)
def test_the_target_is_the_seen_size_never_larger(size, seen, expected):
    assert imagefit.target_size(*size, *seen, mime="image/jpeg") == expected


def test_unknown_rules_and_animations_are_left_alone():
    assert imagefit.target_size(4000, 3000, None, None, mime="image/jpeg") is None
    assert imagefit.target_size(4000, 3000, 1024, 768, mime="image/gif", frames=24) is None
    # A phone's MPO (its primary picture and a preview) is its first frame: fitted.
    assert imagefit.target_size(4000, 3000, 1024, 768, mime="image/mpo", frames=2) == (1024, 768)


def test_a_jpeg_stays_a_jpeg_with_its_subsampling_at_high_quality():
    data = photo(subsampling=0, quality=95)  # 4:4:4
    fitted = imagefit.fit(data, (1024, 768), mime="image/jpeg", max_pixels=MAX)
    img = opened(fitted.data)
    assert (fitted.mime, img.format, img.size) == ("image/jpeg", "JPEG", (1024, 768))
    assert (fitted.width, fitted.height) == (1024, 768)
    assert JpegImagePlugin.get_sampling(img) == 0
    assert len(fitted.data) < len(data)


def test_exif_keeps_only_the_orientation_and_the_pixels_are_not_rotated():
    exif = PILImage.Exif()
    exif[0x0112] = 6  # "rotate 90° CW to display"
    exif[0x010F] = "PhoneMaker"  # Make: not kept
    data = photo(exif=exif.tobytes())
    fitted = imagefit.fit(data, (1000, 750), mime="image/jpeg", max_pixels=MAX)
    img = opened(fitted.data)
    assert img.size == (1000, 750)  # landscape as stored: no rotation applied
    assert dict(img.getexif()) == {0x0112: 6}
    assert sniff(fitted.data).exif_orientation == 6


def test_the_colour_profile_is_kept():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = photo(icc_profile=icc)
    fitted = imagefit.fit(data, (1000, 750), mime="image/jpeg", max_pixels=MAX)
    assert opened(fitted.data).info.get("icc_profile") == icc


def test_a_png_stays_a_png_with_its_alpha():
    data = png_bytes(size=(3000, 2000), color=(10, 20, 30, 128), mode="RGBA")
    fitted = imagefit.fit(data, (1500, 1000), mime="image/png", max_pixels=MAX)
    img = opened(fitted.data)
    assert (fitted.mime, img.format, img.mode, img.size) == (
        "image/png",
        "PNG",
        "RGBA",
        (1500, 1000),
    )
    r, g, b, a = img.getpixel((700, 500))
    # Lanczos resizes alpha premultiplied: a half-transparent colour may round by one.
    assert a == 128 and max(abs(r - 10), abs(g - 20), abs(b - 30)) <= 1


def test_a_palette_png_with_transparency_keeps_it():
    img = PILImage.new("P", (2000, 2000), 0)
    img.putpalette([255, 0, 0, 0, 255, 0])
    out = io.BytesIO()
    img.save(out, "PNG", transparency=0)
    fitted = imagefit.fit(out.getvalue(), (1000, 1000), mime="image/png", max_pixels=MAX)
    assert opened(fitted.data).getpixel((500, 500))[3] == 0  # still transparent


def test_a_webp_stays_webp_where_taken_and_becomes_png_where_not():
    data = photo(fmt="WEBP")
    assert imagefit.fit(data, (1000, 750), mime="image/webp", max_pixels=MAX).mime == "image/webp"
    refused = imagefit.fit(
        data, (1000, 750), mime="image/webp", accepted=frozenset({"image/png"}), max_pixels=MAX
    )
    assert (refused.mime, opened(refused.data).format) == ("image/png", "PNG")


def test_a_still_gif_and_a_bmp_become_png():
    gif = photo(fmt="GIF")
    fitted = imagefit.fit(gif, (1000, 750), mime="image/gif", max_pixels=MAX)
    assert (fitted.mime, opened(fitted.data).size) == ("image/png", (1000, 750))
    bmp = photo(fmt="BMP")
    assert imagefit.fit(bmp, (1000, 750), mime="image/bmp", max_pixels=MAX).mime == "image/png"


def test_a_big_jpeg_decodes_at_a_reduced_scale_within_the_pixel_bound():
    data = photo(size=(4000, 3000))  # 12 MP
    # A 3 MP bound: the whole would not decode, its 1/2 scale (2000×1500) does.
    fitted = imagefit.fit(data, (1024, 768), mime="image/jpeg", max_pixels=3_000_000)
    assert opened(fitted.data).size == (1024, 768)


def test_past_the_pixel_bound_nothing_is_decoded():
    data = png_bytes(size=(3000, 3000))
    with pytest.raises(TooManyPixels, match="GATEWAY_MAX_IMAGE_PIXELS"):
        imagefit.fit(data, (1000, 1000), mime="image/png", max_pixels=8_999_999)


def test_bytes_that_do_not_decode_are_an_image_error():
    data = photo()
    with pytest.raises(ImageError):
        imagefit.fit(data[: len(data) // 2], (1000, 750), mime="image/jpeg", max_pixels=MAX)


def test_a_16_bit_png_is_left_alone():
    out = io.BytesIO()
    PILImage.new("I;16", (2000, 2000), 40000).save(out, "PNG")
    with pytest.raises(ImageError, match="high bit depths"):
        imagefit.fit(out.getvalue(), (1000, 1000), mime="image/png", max_pixels=MAX)


def test_decodes_on_the_request_path_are_bounded_across_requests(monkeypatch):
    """GATEWAY_MAX_CONCURRENT_DECODES: however many requests fit images at once, at most that
    many decodes run together (each may hold GATEWAY_MAX_IMAGE_PIXELS × 4 bytes), on threads
    of their own."""
    import asyncio
    import threading
    import time

    from gateway import preflight
    from gateway.images import decodes

    held, most, names, lock = [0], [0], set(), threading.Lock()

    def fit(*args, **kwargs):
        with lock:
            held[0] += 1
            most[0] = max(most[0], held[0])
            names.add(threading.current_thread().name.split("_")[0])
        time.sleep(0.05)
        with lock:
            held[0] -= 1
        return None

    monkeypatch.setattr(preflight.imagefit, "fit", fit)
    decodes.set(2)
    img = Image(message=0, part=0, origin="base64")
    img.data = b"x"

    async def six_requests():
        calls = [decodes.run(preflight._fit_all, [(img, (1, 1))], None, 10) for _ in range(6)]
        return await asyncio.gather(*calls)

    assert asyncio.run(six_requests()) == [[None]] * 6
    assert most[0] == 2 and names == {"iris-decode"}


def test_a_retry_of_the_same_target_reuses_the_fitted_copy(monkeypatch):
    """Auto-fit decodes an image once per request and target: a retry finds its copy made."""
    import asyncio

    from gateway import preflight
    from gateway.providers.base import Target

    img = sniff_image(png_bytes((3000, 2000)))
    calls = []
    real = preflight.imagefit.fit
    monkeypatch.setattr(preflight.imagefit, "fit", lambda *a, **k: calls.append(1) or real(*a, **k))
    target = Target(provider="openai", options={preflight.OPTION: "auto"})

    first = asyncio.run(preflight.fit([img], target, "gpt-4o", {}))
    copy = img.converted
    second = asyncio.run(preflight.fit([img], target, "gpt-4o", {}))

    assert len(calls) == 1 and first.fitted == second.fitted == 1
    assert img.converted is copy and second.sizes == first.sizes


def sniff_image(data: bytes) -> Image:
    img = Image(message=0, part=0, origin="base64")
    img.data = data
    img.describe(data)
    return img
