"""The request page's economics: each input image as the model saw it (the resized picture,
its grid, tokens, estimated cost, warnings), the record's estimate and its cost.

The numbers are OpenAI's worked example (https://platform.openai.com/docs/guides/images-vision
#calculating-costs, read 2026-11-26): a 2048×4096 image at detail high is fitted into
2048×2048 (1024×2048), then its shortest side scaled to 768 px: 768×1536, six 512-px tiles,
85 + 6 × 170 = 1105 tokens. The rows are written with those values, as the log writer would.
"""

import io
import re
from decimal import Decimal
from html import unescape

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from PIL import Image as PILImage

from gateway.models import Blob, LogImage, RequestLog
from logs_ui import seen, seen_grid
from logs_ui.templatetags import economics
from tests.ui.logs import make_log, png

pytestmark = pytest.mark.django_db

TILES = {
    "kind": "tiles",
    "cols": 2,
    "rows": 3,
    "cell": 512,
    "tokens_per_cell": 170,
    "base_tokens": 85,
}
# gpt-4o's input price, USD per million tokens (https://platform.openai.com/docs/pricing,
# read 2026-11-26); output 10.00.
BREAKDOWN = {
    "total": "0.00287",
    "currency": "USD",
    "source": "genai-prices",
    "lines": [
        {
            "kind": "input",
            "quantity": 1120,
            "unit": "token",
            "usd_per_million": "2.50",
            "usd": "0.0028",
        },
        {
            "kind": "output",
            "quantity": 7,
            "unit": "token",
            "usd_per_million": "10.00",
            "usd": "0.00007",
        },
    ],
    "input_usd_per_million": "2.50",
    "image_input_usd_per_million": None,
    "unknown": [],
}


def _openai_example(**record) -> tuple[RequestLog, LogImage]:
    """A gpt-4o request with one 2048×4096 image, its seen size, grid and cost written in."""
    log = make_log(images=[png(size=(2048, 4096))], model="gpt-4o", detail="high")
    image = log.images.get()
    LogImage.objects.filter(pk=image.pk).update(
        seen_width=768, seen_height=1536, grid=TILES, estimated_tokens=1105
    )
    values = {
        "prompt_tokens": 1120,
        "estimated_prompt_tokens": 1113,  # 1105 for the image, 8 for the text
        "cost_usd": Decimal("0.00287"),
        "cost_breakdown": BREAKDOWN,
        **record,
    }
    RequestLog.objects.filter(pk=log.pk).update(**values)
    return RequestLog.objects.get(pk=log.pk), LogImage.objects.get(pk=image.pk)


def _page(client, log) -> str:
    response = client.get(reverse("logs_ui:detail", args=[log.id]))
    assert response.status_code == 200
    return response.text


def _text(html: str) -> str:
    """The page's words, tags dropped and spaces collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _picture(client, image: LogImage, **headers):
    return client.get(reverse("logs_ui:seen-image", args=[image.id]), headers=headers)


def _fragment(client, image: LogImage) -> str:
    """The picture and its grid, as the toggle fetches them (htmx)."""
    response = client.get(
        reverse("logs_ui:seen-picture", args=[image.id]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    return response.text


def _open(response) -> PILImage.Image:
    return PILImage.open(io.BytesIO(response.content))


def test_the_resized_picture_is_the_size_the_model_saw(staff_client, monkeypatch):
    _, image = _openai_example()
    response = _picture(staff_client, image)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert _open(response).size == (768, 1536)
    assert default_storage.exists(seen.storage_name(image.blob_id, 768, 1536))

    def fail(*args, **kwargs):
        raise AssertionError("rendered twice")

    monkeypatch.setattr(seen, "render", fail)  # made once, then read from storage
    assert _picture(staff_client, image).content == response.content
    again = _picture(staff_client, image, **{"If-None-Match": response["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_the_picture_keeps_the_stored_orientation_as_the_provider_gets_it(staff_client):
    # Raw pixels 80×40, red on the left half; EXIF 6 says "turn 90° clockwise to view".
    raw = PILImage.new("RGB", (80, 40), (0, 0, 255))
    raw.paste((255, 0, 0), (0, 0, 40, 40))
    exif = PILImage.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    raw.save(out, "JPEG", quality=95, exif=exif.tobytes())
    log = make_log(images=[out.getvalue()])
    image = log.images.get()
    LogImage.objects.filter(pk=image.pk).update(seen_width=40, seen_height=20, estimated_tokens=85)
    picture = _open(_picture(staff_client, image)).convert("RGB")
    assert picture.size == (40, 20)  # not turned upright: 20×40 would be
    red, green, blue = picture.getpixel((5, 10))
    assert red > 200 and blue < 60, picture.getpixel((5, 10))
    assert "EXIF rotation: the provider will see it sideways" in _page(staff_client, log)


def test_the_picture_is_the_first_frame_of_an_animation(staff_client):
    frames = [PILImage.new("RGB", (20, 20), color) for color in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    log = make_log(images=[out.getvalue()])
    image = log.images.get()
    LogImage.objects.filter(pk=image.pk).update(seen_width=10, seen_height=10, estimated_tokens=85)
    red, _, blue = _open(_picture(staff_client, image)).convert("RGB").getpixel((5, 5))
    assert red > 200 and blue < 60
    assert "animated (2 frames): only the first frame is sent" in _page(staff_client, log)


def test_the_picture_is_behind_the_login(nobody_client):
    _, image = _openai_example()
    url = reverse("logs_ui:seen-image", args=[image.id])
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/logs/login/")
    assert nobody_client.get(url).status_code == 403


def test_the_toggles_fragment_is_behind_the_login(nobody_client):
    _, image = _openai_example()
    url = reverse("logs_ui:seen-picture", args=[image.id])
    anonymous = Client().get(url, headers={"HX-Request": "true"})
    assert anonymous.status_code == 200 and anonymous["HX-Redirect"].startswith("/logs/login/")
    assert "<svg" not in anonymous.text
    assert nobody_client.get(url).status_code == 403


def test_no_picture_where_no_seen_size_was_recorded(staff_client):
    image = make_log(images=[png()], provider="mistral", model="pixtral-large").images.get()
    assert image.seen_width is None
    assert _picture(staff_client, image).status_code == 404
    assert staff_client.get(reverse("logs_ui:seen-picture", args=[image.id])).status_code == 404


def test_a_picture_past_the_pixel_limit_is_a_placeholder(staff_client, settings):
    _, image = _openai_example()
    # The 768×1536 result is 1.2 M pixels, the 2048×4096 PNG to decode 8.4 M.
    settings.GATEWAY_MAX_IMAGE_PIXELS = 2_000_000
    response = _picture(staff_client, image)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert "GATEWAY_MAX_IMAGE_PIXELS" in response["X-Iris-Thumbnail-Error"]


def test_the_page_shows_the_image_as_the_model_saw_it(staff_client):
    log, image = _openai_example()
    html = _page(staff_client, log)
    text = _text(html)
    # The page carries no picture: the toggle fetches it with its grid.
    assert f'hx-get="/logs/seen-images/{image.id}/"' in html and "<svg" not in html
    assert ".webp" not in html.split('id="seen-')[1].split("</span>")[0]
    assert "As the model saw it" in text
    assert "768×1536 px · downscaled 2.7×" in text  # 4096 / 1536 = 2.67
    assert "2×3 = 6 tiles" in text
    assert "6 tiles × 170 + 85 base = 1,105 tokens estimated" in text
    # 1105 tokens at gpt-4o's 2.50 USD per million input tokens = 0.0027625 USD.
    assert "$0.0027625 estimated, at the input price" in text
    assert "downscaled 2.7×: small text may be unreadable" in text
    # The grid over the 768×1536 picture: lines at 512 px, then 512 and 1024 px; 6 labels.
    fragment = _fragment(staff_client, image)
    assert f'<img src="/logs/seen-images/{image.id}.webp" width="240" height="480"' in fragment
    svg = re.search(r"<svg class=\"seen-grid\".*?</svg>", fragment, re.S).group(0)
    assert 'viewBox="0 0 768 1536"' in svg and 'data-cols="2"' in svg and 'data-rows="3"' in svg
    assert re.findall(r'<line class="v" x1="([\d.]+)"', svg) == ["512.00"]
    assert re.findall(r'<line class="h" x1="0" y1="([\d.]+)"', svg) == ["512.00", "1024.00"]
    labels = re.findall(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*>(\w+)</text>', svg)
    # Centres of each tile's visible part: x 256 and 640 (the second tile cut at 768).
    assert labels == [
        (x, y, "170") for y in ("256.00", "768.00", "1280.00") for x in ("256.00", "640.00")
    ]


def test_the_page_shows_the_estimate_beside_the_reported_tokens_and_the_cost(staff_client):
    log, _ = _openai_example()
    text = _text(_page(staff_client, log))
    # 1120 reported − 1113 estimated = +7, 7 / 1113 = 0.63 %.
    assert "Estimated in 1,113 reported − estimated +7 (+0.6%)" in text
    assert "Cost $0.00287" in text
    assert "input 1,120 tokens $2.50 / 1M tokens $0.0028" in text
    assert "output 7 tokens $10.00 / 1M tokens $0.00007" in text
    assert "prices: genai-prices" in text


def test_the_image_price_is_used_where_the_model_has_one(staff_client):
    breakdown = {**BREAKDOWN, "image_input_usd_per_million": "1.25"}
    log, _ = _openai_example(cost_breakdown=breakdown)
    # 1105 × 1.25 / 1e6 = 0.00138125
    assert "$0.00138125 estimated, at the image input price" in _text(_page(staff_client, log))


def test_an_unknown_rule_and_an_unknown_price_say_unknown(staff_client):
    log = make_log(images=[png(size=(300, 200))], provider="mistral", model="pixtral-large")
    RequestLog.objects.filter(pk=log.pk).update(cost_usd=None, cost_breakdown=None)
    html = _page(staff_client, log)
    text = _text(html)
    assert "seen unknown: Iris has no image rule for provider “mistral”" in text
    assert "tokens unknown" in text and "cost unknown" in text
    assert '<dd class="cost-total">unknown</dd>' in html
    assert '<span class="est-tokens"' in html and "Estimated in unknown" in text
    assert "seen-images/" not in html and "As the model saw it" not in text
    assert "$0" not in text  # unknown is never shown as free


def test_a_rule_that_fails_costs_the_reason_not_the_page(staff_client, monkeypatch):
    log = make_log(images=[png(size=(30, 20))], provider="mistral", model="pixtral-large")

    class Broken:
        @staticmethod
        def seen(*args):
            raise TypeError("not a dict")

    monkeypatch.setattr(seen.estimate, "vision_rules", lambda provider: Broken)
    text = _text(_page(staff_client, log))
    assert "seen unknown: the provider's rule failed on this request" in text


def test_a_known_rule_without_tokens_says_unknown(staff_client):
    log, image = _openai_example(cost_usd=None, cost_breakdown=None)
    LogImage.objects.filter(pk=image.pk).update(estimated_tokens=None, grid=None)
    text = _text(_page(staff_client, log))
    assert "tokens unknown cost unknown" in text
    assert "cost unknown" in text and "Cost unknown" in text


def test_tokens_known_without_a_size(staff_client):
    # Gemini 3 takes a token budget per image (media_resolution, see
    # https://ai.google.dev/gemini-api/docs/media-resolution, read 2026-11-26, and
    # gateway/providers/gemini_vision.py) with no pixels documented behind it.
    log = make_log(images=[png(size=(300, 200))], provider="google", model="gemini-3-pro-preview")
    image = log.images.get()
    LogImage.objects.filter(pk=image.pk).update(
        seen_width=None, seen_height=None, grid=None, estimated_tokens=1120
    )
    breakdown = {**BREAKDOWN, "input_usd_per_million": "2.00"}
    RequestLog.objects.filter(pk=log.pk).update(cost_breakdown=breakdown)
    html = _page(staff_client, log)
    text = _text(html)
    assert "seen unknown: the provider documents the tokens, not the size it resizes to" in text
    assert "tokens 1,120 estimated" in text
    assert "cost $0.00224 estimated, at the input price" in text  # 1120 × 2.00 / 1e6
    assert "As the model saw it" not in text


def test_a_known_zero_cost_is_shown_as_zero(staff_client):
    zero = {**BREAKDOWN, "total": "0", "lines": [], "input_usd_per_million": "0"}
    log, _ = _openai_example(cost_usd=Decimal("0"), cost_breakdown=zero)
    text = _text(_page(staff_client, log))
    assert "Cost $0.00" in text and "$0.00 estimated, at the input price" in text


def test_patches_too_dense_to_label_are_counted(staff_client):
    # OpenAI's patch example (same page): 1800×2400 → 1056×1408, 33×44 = 1452 patches of 32 px.
    log = make_log(images=[png(size=(1800, 2400))], model="gpt-4.1-mini")
    image = log.images.get()
    grid = {
        "kind": "patches",
        "cols": 33,
        "rows": 44,
        "cell": 32,
        "tokens_per_cell": 1.62,
        "base_tokens": 0,
    }
    LogImage.objects.filter(pk=image.pk).update(
        seen_width=1056, seen_height=1408, grid=grid, estimated_tokens=2352
    )
    html = _page(staff_client, log)
    text = _text(html)
    assert "33×44 = 1,452 patches (too many to label each)" in text
    assert "1,452 patches × 1.62 = 2,352 tokens estimated" in text
    assert "downscaled 1.7×" in text and "small text may be unreadable" not in text
    fragment = _fragment(staff_client, image)
    assert fragment.count('<line class="v"') == 32 and fragment.count('<line class="h"') == 43
    assert "<text " not in fragment


def test_the_copy_sent_shows_both_sizes_and_the_bytes_saved(staff_client):
    log, image = _openai_example()
    sent = make_log(images=[png(size=(768, 1536))]).images.get().blob
    LogImage.objects.filter(pk=image.pk).update(sent_blob=sent)
    original = Blob.objects.get(pk=image.blob_id)
    text = _text(_page(staff_client, log))
    saved = original.size - sent.size
    assert saved > 0
    assert "a copy of 768×1536 px" in text and f"({sent.size:,} bytes)" in text
    assert "instead of 2048×4096 px" in text and f"{saved:,} bytes saved" in text


def test_the_breakdown_is_escaped(staff_client):
    evil = "<script>alert(1)</script>"
    breakdown = {**BREAKDOWN, "source": evil, "unknown": [evil]}
    breakdown["lines"] = [{**BREAKDOWN["lines"][0], "kind": evil}]
    log, _ = _openai_example(cost_breakdown=breakdown)
    html = _page(staff_client, log)
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_economics_ask_no_query_per_image(staff_client, django_assert_max_num_queries):
    log = make_log(images=[png(size=(40 + i, 30)) for i in range(4)])
    sent = make_log(images=[png(size=(20, 15))]).images.get().blob
    LogImage.objects.filter(log=log).update(
        seen_width=20, seen_height=15, estimated_tokens=85, grid=TILES, sent_blob=sent
    )
    # Session, user, the record, its images (with both blobs), and one count per image of
    # the other requests that used it: none for the seen sizes, grids, costs or copies sent.
    with django_assert_max_num_queries(4 + 4):
        html = _page(staff_client, log)
    assert html.count('class="seen-sent"') == 4


def test_the_helpers_in_words():
    # The grid where the cells are not in seen pixels is cut in equal parts.
    assert seen_grid.lines(2, 512, 768) == (512.0,)
    assert seen_grid.lines(3, 768, 900) == (300.0, 600.0)
    assert seen_grid.formula(TILES, 1105) == "6 tiles × 170 + 85 base = 1,105 tokens"
    assert (
        seen_grid.formula({**TILES, "cols": 1, "rows": 1}, None)
        == "1 tile × 170 + 85 base = unknown"
    )
    assert economics.usd(Decimal("0.0004250000")) == "$0.000425"
    assert economics.usd(Decimal("1234.5")) == "$1,234.50"
    assert economics.usd(None) == "unknown"
    assert economics.usd(seen.decimal("1e30")) == "$1,000,000,000,000,000,000,000,000,000,000"
    assert seen.decimal("NaN") is None and seen.decimal(True) is None
