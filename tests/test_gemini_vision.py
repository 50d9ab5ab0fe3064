"""Gemini's image rule (gateway/providers/gemini_vision.py) against Google's documentation.

Pages (read 2026-11-26):
- IMAGES https://ai.google.dev/gemini-api/docs/image-understanding, "Token calculation":
  258 tokens when both sides are <= 384 px; else 768x768 tiles of 258 tokens, crop unit
  floor(min(w, h) / 1.5). Worked example: 960x540 → crop unit 360 → 3 * 2 = 6 tiles.
  Gemini 1.5 (earlier revision, and Vertex AI): crop unit kept within 256..768 px.
- FIT https://firebase.google.com/docs/ai-logic/input-file-requirements: larger images are
  scaled down to fit 3072x3072.
- MEDIA https://ai.google.dev/gemini-api/docs/media-resolution, "Token counts": Gemini 3
  images 280/560/1120/2240 (LOW/MEDIUM/HIGH/ULTRA_HIGH), default 1120; Gemini 2.5 LOW 64,
  MEDIUM 256, HIGH "256 + Pan & Scan". Per part (Gemini 3 only) or in generationConfig.
"""

import base64
import io

import orjson
import pytest
from PIL import Image as PILImage

from gateway import estimate, vision
from gateway.chat import parse_chat
from gateway.providers import gemini, gemini_vision
from gateway.providers.base import Target
from gateway.vision import Grid
from tests.conftest import png_bytes
from tests.fakes import gemini as fake_gemini


def tiles(cols: int, rows: int) -> Grid:
    """A grid of `cols`×`rows` 768-px tiles of 258 tokens each (IMAGES)."""
    return Grid("tiles", cols, rows, 768, 258)


# --- Gemini 2.0 / 2.5: the small-image rule and 768-px tiles ---------------------------------


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash-001"])
def test_the_documented_worked_example_960x540_is_six_tiles(model):
    # IMAGES: crop unit floor(540 / 1.5) = 360; 960/360 → 3 columns, 540/360 → 2 rows.
    seen = gemini_vision.seen(model, 960, 540, None, {})
    assert seen.tokens == 6 * 258 == 1548
    assert seen.grid == tiles(3, 2)
    # Each 360-px crop becomes a 768-px tile: the model sees the image at 768/360.
    assert (seen.width, seen.height) == (2048, 1152)
    assert "crop unit 360 px" in seen.rule and seen.notes == ()


@pytest.mark.parametrize(("width", "height"), [(384, 384), (1, 1), (200, 384), (384, 17)])
def test_an_image_with_both_sides_at_most_384_px_is_258_tokens(width, height):
    seen = gemini_vision.seen("gemini-2.5-flash", width, height, None, {})
    assert seen.tokens == 258
    assert (seen.width, seen.height) == (width, height)  # no resize is documented
    assert seen.grid == Grid("tiles", 1, 1, max(width, height), 258)


@pytest.mark.parametrize(
    ("width", "height", "crop", "cols", "rows", "seen_size"),
    [
        # One pixel past 384: crop unit floor(384/1.5) = 256, 2×2 tiles, not one.
        (385, 384, 256, 2, 2, (1155, 1152)),
        (384, 385, 256, 2, 2, (1152, 1155)),
        # Any square past 384 px: the side is 1.5 crop units → 2×2 tiles.
        (768, 768, 512, 2, 2, (1152, 1152)),
        (1024, 1024, 682, 2, 2, (1153, 1153)),
        # An exact multiple of the crop unit needs no extra column: 1536/512 = 3.
        (1536, 768, 512, 3, 2, (2304, 1152)),
        # A hair over a multiple does: 1537/512 → 4 columns.
        (1537, 768, 512, 4, 2, (2305, 1152)),
        # A panorama: floor(400/1.5) = 266; 3000/266 → 12 columns, 400/266 → 2 rows.
        (3000, 400, 266, 12, 2, (8661, 1154)),
    ],
)
def test_tiles_follow_the_crop_unit_at_their_edges(width, height, crop, cols, rows, seen_size):
    seen = gemini_vision.seen("gemini-2.5-flash", width, height, None, {})
    assert f"crop unit {crop} px" in seen.rule
    assert seen.grid == tiles(cols, rows)
    assert seen.tokens == cols * rows * 258
    assert (seen.width, seen.height) == seen_size


def test_a_phone_photo_is_first_fitted_within_3072_px_then_tiled():
    # FIT: 4000x3000 → 3072x2304; crop unit 2304/1.5 = 1536 → 2×2 tiles, seen at 768/1536.
    seen = gemini_vision.seen("gemini-2.5-flash", 4000, 3000, None, {})
    assert seen.tokens == 4 * 258 == 1032
    assert seen.grid == tiles(2, 2)
    assert (seen.width, seen.height) == (1536, 1152)
    notes = vision.warnings(seen, width=4000, height=3000)
    assert "downscaled 2.6×: small text may be unreadable" in notes
    # Fitting changes nothing where the formula is proportional: 6144x3072 is 960x540's shape.
    wide = gemini_vision.seen("gemini-2.0-flash", 6144, 3072, None, {})
    assert wide.grid == tiles(3, 2) and (wide.width, wide.height) == (2304, 1152)


def test_a_strip_under_2_px_high_has_no_documented_tiling():
    # floor(1 / 1.5) = 0: the formula has no crop unit, so the cost is unknown, not a guess.
    seen = gemini_vision.seen("gemini-2.5-flash", 3000, 1, None, {})
    assert seen.tokens is None and seen.grid is None
    # Two pixels high: a crop unit of one pixel, 6000 tiles: past MAX_TILES, unknown too.
    assert gemini_vision.seen("gemini-2.5-flash", 3000, 2, None, {}).grid is None
    # A narrow image within the bound: crop unit floor(96 / 1.5) = 64, 2×7 = 14 tiles.
    assert gemini_vision.seen("gemini-2.5-flash", 96, 384 + 1, None, {}).grid == tiles(2, 7)
    # 4000x2 is first fitted within 3072 px (FIT): 3072x1, no crop unit again.
    assert gemini_vision.seen("gemini-2.5-flash", 4000, 2, None, {}).tokens is None


# --- Gemini 1.5 and 1.0 ----------------------------------------------------------------------


def test_gemini_1_5_keeps_the_crop_unit_between_256_and_768_px():
    # 4000x3000 → 3072x2304 (FIT); 2304/1.5 = 1536, held to 768 → 4×3 tiles.
    big = gemini_vision.seen("gemini-1.5-pro-002", 4000, 3000, None, {})
    assert big.grid == tiles(4, 3) and big.tokens == 12 * 258 == 3096
    assert (big.width, big.height) == (3072, 2304)  # 768-px crops, seen at 768/768
    # 500x300: 300/1.5 = 200, raised to 256 → 2×2 tiles; Gemini 2.x cuts 200-px ones: 3×2.
    small = gemini_vision.seen("gemini-1.5-flash", 500, 300, None, {})
    assert small.grid == tiles(2, 2) and small.tokens == 1032
    assert (small.width, small.height) == (1500, 900)  # at 768/256
    assert gemini_vision.seen("gemini-2.5-flash", 500, 300, None, {}).grid == tiles(3, 2)
    assert gemini_vision.seen("gemini-1.5-flash", 384, 384, None, {}).tokens == 258


def test_gemini_1_0_pro_vision_costs_258_tokens_an_image():
    seen = gemini_vision.seen("gemini-1.0-pro-vision-001", 6000, 3000, None, {})
    assert seen.tokens == 258
    assert (seen.width, seen.height) == (3072, 1536)  # FIT


# --- Gemini 3: media_resolution budgets ------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    ["gemini-3-pro-preview", "gemini-3-flash-preview", "gemini-3.1-pro-preview",
     "models/gemini-3-pro-image-preview"],
)  # fmt: skip
def test_gemini_3_reads_every_image_at_the_default_budget_of_1120_tokens(model):
    for width, height in [(64, 64), (960, 540), (4000, 3000)]:
        seen = gemini_vision.seen(model, width, height, None, {})
        assert seen.tokens == 1120
        # Google documents a budget, not pixels or a grid: those stay unknown.
        assert (seen.width, seen.height, seen.grid) == (None, None, None)
        assert "HIGH (the default)" in seen.rule


@pytest.mark.parametrize(
    ("level", "tokens"),
    [("low", 280), ("MEDIA_RESOLUTION_MEDIUM", 560), ("high", 1120), ("ultra_high", 2240),
     ("MEDIA_RESOLUTION_UNSPECIFIED", 1120), (None, 1120)],
)  # fmt: skip
def test_gemini_3_media_resolution_levels(level, tokens):
    assert gemini_vision.seen_at("gemini-3-flash-preview", 960, 540, level).tokens == tokens


def test_earlier_models_at_an_explicit_media_resolution():
    # MEDIA, Gemini 2.5: LOW 64, MEDIUM 256; HIGH is 256 plus pan and scan, total undocumented.
    assert gemini_vision.seen_at("gemini-2.5-flash", 960, 540, "low").tokens == 64
    assert gemini_vision.seen_at("gemini-2.5-pro", 960, 540, "MEDIUM").tokens == 256
    assert gemini_vision.seen_at("gemini-2.5-pro", 960, 540, "high").tokens is None
    # ULTRA_HIGH is Gemini 3's only; a level Google does not name is nobody's.
    assert gemini_vision.seen_at("gemini-2.5-pro", 960, 540, "ultra_high").tokens is None
    assert gemini_vision.seen_at("gemini-3-pro-preview", 960, 540, "extreme").tokens is None


# --- what Iris sends: detail and media_resolution --------------------------------------------
# MEDIA, "Per-part media resolution (Gemini 3 only)": `"media_resolution": {"level": ...}`
# beside inline_data; "Global media resolution": generationConfig, all multimodal models, every
# media part of the request. detail low → LOW, high → HIGH, auto or none → nothing.

TARGET = Target(provider="google", api_key="k")
PDF_MIME = "application/pdf"


def _pdf_uri() -> str:
    out = io.BytesIO()
    PILImage.new("RGB", (60, 40), (0, 90, 200)).save(out, "PDF")
    return f"data:{PDF_MIME};base64," + base64.b64encode(out.getvalue()).decode()


def _image_part(detail: str | None = "low") -> dict:
    png = "data:image/png;base64," + base64.b64encode(png_bytes((960, 540))).decode()
    return {"type": "image_url", "image_url": {"url": png} | ({"detail": detail} if detail else {})}


def _chat(*details: str | None, model: str = "gemini-3-flash-preview", pdf=False, **extra):
    parts = [_image_part(d) for d in details or ("low",)]
    parts += [{"type": "file", "file": {"file_data": _pdf_uri()}}] if pdf else []
    body = {"model": model, "messages": [{"role": "user", "content": parts}]}
    return parse_chat(orjson.dumps(body | extra))


def _sent(chat) -> tuple[list, str | None]:
    """(each image part's media_resolution level, generationConfig's), as gemini.py sends them,
    after the fake Gemini (google-genai's strict types) has taken the body."""
    upstream = gemini.build_request(chat, TARGET)
    body = orjson.loads(upstream.content)
    fake_gemini.validate(body, chat.model)  # raises on a field or value the API refuses
    parts = [p for p in body["contents"][0]["parts"] if p["inline_data"]["mime_type"] != PDF_MIME]
    levels = [(p.get("media_resolution") or {}).get("level") for p in parts]
    return levels, body.get("generationConfig", {}).get("mediaResolution")


def _estimated(chat) -> list:
    """Each image's estimated level, as gemini_vision decides it for the estimate."""
    images = [chat.image(0, j) for j, p in enumerate(chat.body["messages"][0]["content"])
              if p["type"] == "image_url"]  # fmt: skip
    return [gemini_vision.sent_resolution(chat.model, img.detail, chat.body) for img in images]


def test_gemini_3_gets_each_image_detail_on_its_own_part():
    chat = _chat("low", "high", "auto", None, media_resolution="low")
    levels, config = _sent(chat)
    assert levels == ["MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_HIGH", None, None]
    assert config is None  # per part only: generationConfig says nothing
    assert _estimated(chat) == ["LOW", "HIGH", None, None]  # the same decision, by the estimate
    # The request-level key is not a convention Iris takes: logged as dropped, not sent.
    assert "media_resolution" in gemini.build_request(chat, TARGET).dropped
    tokens = [gemini_vision.seen(chat.model, 960, 540, d, chat.body).tokens
              for d in ("low", "high", "auto", None)]  # fmt: skip
    assert tokens == [280, 1120, 1120, 1120]  # MEDIA, Gemini 3 Image: LOW 280, HIGH/default 1120


def test_detail_low_on_gemini_3_is_estimated_at_280_tokens_not_1120():
    seen = gemini_vision.seen("gemini-3-flash-preview", 960, 540, "low", {})
    assert seen.tokens == 280 and seen.rule == "Gemini 3 media_resolution LOW: 280 tokens"
    assert seen.notes == ()
    # The request key stays unforwarded, and the estimate says so.
    noted = gemini_vision.seen("gemini-3-pro-preview", 960, 540, None, {"media_resolution": "low"})
    assert noted.tokens == 1120
    assert noted.notes == ("media_resolution is not forwarded by Iris: an image's detail sets it",)


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-2.0-flash-001"])
def test_earlier_models_get_one_level_in_generation_config_when_every_image_agrees(model):
    chat = _chat("low", "low", model=model)
    assert _sent(chat) == ([None, None], "MEDIA_RESOLUTION_LOW")  # never on a part
    assert _estimated(chat) == ["LOW", "LOW"]
    # MEDIA, Gemini 2.5 and the MediaResolution enum: LOW is 64 tokens.
    assert gemini_vision.seen(model, 960, 540, "low", chat.body).tokens == 64
    high = _chat("high", "high", model=model)
    # HIGH is "256 + Pan & Scan" with no documented total, much as the default: not sent, so
    # the estimate keeps the default's documented tiles.
    assert _sent(high) == ([None, None], None)
    assert gemini_vision.seen(model, 960, 540, "high", high.body).tokens == 1548
    assert _sent(_chat("auto", None, model=model)) == ([None, None], None)


@pytest.mark.parametrize(
    ("details", "pdf"), [(("low", "high"), False), (("low", "auto"), False), (("low",), True)]
)
def test_earlier_models_send_nothing_when_images_disagree_or_a_document_rides_along(details, pdf):
    """One generationConfig level would change the other images (or the PDF) too."""
    chat = _chat(*details, model="gemini-2.5-flash", pdf=pdf)
    levels, config = _sent(chat)
    assert (levels, config) == ([None] * len(details), None)
    assert _estimated(chat) == [None] * len(details)
    seen = gemini_vision.seen("gemini-2.5-flash", 960, 540, "low", chat.body)
    assert seen.tokens == 1548 and seen.grid == tiles(3, 2)  # the default: IMAGES' 6 tiles
    assert seen.notes == (
        "detail: low is not sent to Gemini (before Gemini 3 one level applies to the whole "
        "request, and its images ask different ones or it carries a document): the default "
        "resolution",
    )
    # The core's "detail: low — the model saw 512 px" remark would be wrong; it is not made.
    notes = vision.warnings(seen, width=960, height=540, detail="low")
    assert notes == list(seen.notes)


def test_a_model_without_a_documented_rule_gets_no_media_resolution():
    chat = _chat("low", model="gemma-3-27b-it")
    assert _sent(chat) == ([None], None)
    seen = gemini_vision.seen("gemma-3-27b-it", 960, 540, "low", chat.body)
    assert seen.tokens is None
    assert "detail: low is not sent to Gemini (no documented media_resolution" in seen.notes[0]


def test_an_estimate_without_messages_takes_the_image_detail_alone():
    # /v1/estimate-style calls without a chat body: the one image stands for the request.
    assert gemini_vision.sent_resolution("gemini-2.5-flash", "low", {}) == "LOW"
    assert gemini_vision.sent_resolution("gemini-2.5-flash", "auto", {}) is None
    assert gemini_vision.sent_resolution("gemini-3-pro-preview", "high", {}) == "HIGH"


def test_the_request_estimate_adds_up_gemini_images():
    chat = _chat(None)
    images = [chat.image(0, 0), chat.image(0, 0)]
    # No body: the texts given are counted (a chat body's messages would be counted instead).
    est = estimate.estimate("google", "gemini-2.5-flash", images, ["a" * 40])
    assert [e.seen.tokens for e in est.images] == [1548, 1548]
    assert est.prompt_tokens == 2 * 1548 + 10
    assert est.images[0].as_json(0)["grid"] == tiles(3, 2).as_json()
    low = _chat("low", "low")
    images = [low.image(0, 0), low.image(0, 1)]
    gemini_3 = estimate.estimate("google", "gemini-3-flash-preview", images, [], low.body)
    assert gemini_3.image_tokens == 2 * 280 and gemini_3.problems == []  # LOW on each part
    earlier = estimate.estimate("google", "gemini-2.5-flash", images, [], low.body)
    assert earlier.image_tokens == 2 * 64  # LOW in generationConfig


# --- unknown models --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    ["gemma-3-27b-it", "gemini-exp-1206", "tunedModels/my-model", "gemini-4-pro",
     "gemini-2.7-flash", "gemini-flash-latest", "learnlm-2.0-flash-experimental"],
)  # fmt: skip
def test_a_model_without_a_documented_rule_is_unknown(model):
    seen = gemini_vision.seen(model, 960, 540, None, {})
    assert (seen.tokens, seen.width, seen.height, seen.grid) == (None, None, None, None)
    assert gemini_vision.limits(model).max_images is None


# --- limits ----------------------------------------------------------------------------------


def test_limits_are_the_documented_ones_and_match_what_gemini_py_enforces():
    rules = gemini_vision.limits("gemini-2.5-flash")
    assert rules.max_images == 3600
    assert rules.formats == gemini.IMAGE_MIME_TYPES == {
        "image/png", "image/jpeg", "image/webp", "image/heic", "image/heif",
    }  # fmt: skip
    # Iris's 20 MB of base64 (gemini.MAX_INLINE_BYTES), as the decoded bytes preflight adds.
    assert rules.max_request_bytes == gemini.MAX_INLINE_BYTES * 3 // 4 == 15_000_000
    assert (rules.max_image_bytes, rules.max_side, rules.max_pixels) == (None, None, None)
    assert gemini_vision.limits("gemini-3-pro-preview").max_images == 3600


def test_preflight_and_gemini_py_agree_on_the_inline_data_limit():
    png = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    parts = [{"type": "image_url", "image_url": {"url": png}} for _ in range(2)]
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": parts}]}
    chat = parse_chat(orjson.dumps(body))
    images = [chat.image(0, 0), chat.image(0, 1)]
    target = Target(provider="google", api_key="k")

    def problems():
        est = estimate.estimate("google", chat.model, images, [], chat.body)
        return [p.limit for p in est.problems]

    for img in images:  # 7.5 MB each: 10 MB of base64 each, 20 MB in all: taken
        img.data = b"\x89PNG" + b"\0" * 7_499_996
    assert problems() == []
    assert gemini.build_request(chat, target).content
    images[1].data += b"\0\0\0"  # three bytes more are four more of base64: refused by both
    assert problems() == ["max_request_bytes=15000000"]
    with pytest.raises(Exception, match="inline-data limit"):
        gemini.build_request(chat, target)


def test_preflight_names_a_format_gemini_does_not_take_and_too_many_images():
    chat = _chat()
    img = chat.image(0, 0)
    img.mime = "image/gif"
    est = estimate.estimate("google", "gemini-2.5-flash", [img] * 3601, [], chat.body)
    limits = {(p.image, p.limit) for p in est.problems}
    assert (None, "max_images=3600") in limits
    assert (0, "formats") in limits and (3600, "formats") in limits


def test_a_thin_strip_is_unknown_rather_than_thousands_of_tiles():
    assert gemini_vision.seen("gemini-2.5-flash", 3072, 2, None, {}).tokens is None
    assert gemini_vision.seen("gemini-2.5-flash", 3072, 400, None, {}).tokens is not None
