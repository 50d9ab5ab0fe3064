"""Anthropic's image rule (gateway/providers/anthropic_vision.py) against the worked examples
of https://platform.claude.com/docs/en/build-with-claude/vision ("Resolution and token cost")
and https://platform.claude.com/docs/en/build-with-claude/vision-coordinates ("How Claude
resizes and pads images"), both read 2026-11-26."""

import pytest

from gateway import estimate
from gateway.images import Image
from gateway.providers import anthropic_vision as av
from gateway.vision import Grid

STANDARD_MODEL = "claude-sonnet-4-6"  # "All other models": 1568 px, 1568 tokens
HIGH_MODEL = "claude-opus-4-7"  # "Claude 4.7 and later models": 2576 px, 4784 tokens


# The vision page's table, both columns: (image size, standard tier seen, tokens, high seen,
# tokens). 2000x1500: the page's current revision prints 1269x952 for the standard tier, an
# earlier one 1270x952; the reference implementation (the "exact rule") gives 1270x952, and
# both cost 46 × 34 = 1564 tokens.
TABLE = [
    ((200, 200), (200, 200), 64, (200, 200), 64),
    ((1000, 1000), (1000, 1000), 1296, (1000, 1000), 1296),
    ((1092, 1092), (1092, 1092), 1521, (1092, 1092), 1521),
    ((1920, 1080), (1456, 819), 1560, (1920, 1080), 2691),
    ((2000, 1500), (1270, 952), 1564, (2000, 1500), 3888),
    ((3840, 2160), (1456, 819), 1560, (2576, 1449), 4784),
]


@pytest.mark.parametrize(("size", "std_seen", "std_tokens", "high_seen", "high_tokens"), TABLE)
def test_the_vision_pages_table_on_both_tiers(size, std_seen, std_tokens, high_seen, high_tokens):
    std = av.seen(STANDARD_MODEL, *size, None, {})
    assert (std.width, std.height, std.tokens) == (*std_seen, std_tokens)
    high = av.seen(HIGH_MODEL, *size, None, {})
    assert (high.width, high.height, high.tokens) == (*high_seen, high_tokens)


def test_the_a4_scan_is_resized_by_the_token_budget_not_the_edge():
    # COORDINATES: 1075x1520 has both sides under 1568 px but costs 39 × 55 = 2145 tokens, so
    # the standard tier resizes it to 924x1307; a high-resolution model keeps it.
    assert av.patches(1075, 1520) == 39 * 55 == 2145
    seen = av.seen("claude-haiku-4-5", 1075, 1520, None, {})
    assert (seen.width, seen.height) == (924, 1307)
    # Padded to 924x1316 (a multiple of 28): 33 × 47 patches of one token each.
    assert seen.grid == Grid("patches", 33, 47, 28, 1.0)
    assert seen.tokens == 33 * 47 == 1551
    kept = av.seen(HIGH_MODEL, 1075, 1520, None, {})
    assert (kept.width, kept.height, kept.tokens) == (1075, 1520, 2145)


def test_the_grid_covers_the_padding_and_its_cells_are_the_tokens():
    seen = av.seen(STANDARD_MODEL, 1920, 1080, None, {})
    # 1456x819 pads to 1456x840: ⌈1456/28⌉ = 52 columns, ⌈819/28⌉ = 30 rows.
    assert seen.grid == Grid("patches", 52, 30, 28, 1.0)
    assert seen.grid.cells == seen.tokens == 1560
    assert "standard tier (1568 px, 1568 tokens)" in seen.rule
    assert "high-resolution tier (2576 px, 4784 tokens)" in av.seen(HIGH_MODEL, 9, 9, None, {}).rule


def test_resize_edge_cases():
    std, high = av.STANDARD, av.HIGH_RESOLUTION
    # An edge of 1568 = 56 × 28 fits as it is; one pixel more pads to 1596 and is resized.
    assert av.resized_size(1568, 10, std) == (1568, 10)
    assert av.resized_size(1569, 10, std) == (1568, 10)
    assert av.resized_size(1569, 10, high) == (1569, 10)
    # A square at the edge limit is cut down by the token budget: 39 × 39 = 1521 ≤ 1568.
    assert av.resized_size(1568, 1568, std) == (1092, 1092)
    # A phone photo, 4000x3000, on each tier.
    assert av.resized_size(4000, 3000, std) == (1270, 952)
    assert av.resized_size(4000, 3000, high) == (2212, 1659)
    assert av.patches(2212, 1659) == 79 * 60 == 4740
    # Portrait images are resized as their transpose; a sliver never goes below one pixel.
    assert av.resized_size(3000, 4000, std) == (952, 1270)
    assert av.resized_size(10_000, 10, std) == (1568, 2)
    assert av.resized_size(1, 8000, high) == (1, 2576)
    # Small images are never scaled up: a 1x1 image is one patch.
    one = av.seen(STANDARD_MODEL, 1, 1, None, {})
    assert (one.width, one.height, one.tokens) == (1, 1, 1)


def test_model_names_place_the_tier():
    assert av.tier("claude-opus-4-7") is av.HIGH_RESOLUTION
    assert av.tier("claude-opus-4-8-20260901") is av.HIGH_RESOLUTION
    assert av.tier("claude-sonnet-5") is av.HIGH_RESOLUTION
    assert av.tier("claude-fable-5-1") is av.HIGH_RESOLUTION
    assert av.tier("claude-opus-4-6") is av.STANDARD
    assert av.tier("claude-haiku-4-5@20251001") is av.STANDARD  # Vertex's spelling
    assert av.tier("claude-opus-4-20250514") is av.STANDARD  # 4.0: the date is no minor
    assert av.parse("claude-opus-4-20250514") == av.Claude("opus", (4, 0))
    assert av.parse("claude-3-5-sonnet-20241022") == av.Claude("sonnet", (3, 5))
    assert av.parse("claude-3-opus-20240229") == av.Claude("opus", (3, 0))
    assert av.tier("claude-3-7-sonnet-latest") is av.STANDARD
    assert av.tier("us.anthropic.claude-opus-4-7-v1:0") is av.HIGH_RESOLUTION
    assert av.parse("gpt-4o") is None


def test_what_the_rule_cannot_place_is_unknown_never_a_guess():
    mythos = av.seen("claude-mythos-preview", 1000, 1000, None, {})
    assert (mythos.width, mythos.height, mythos.tokens) == (None, None, None)
    assert "carries none" in mythos.rule
    assert av.seen("gpt-4o", 1000, 1000, None, {}).tokens is None
    # Claude 2 and Instant read no images.
    for model in ("claude-2.1", "anthropic.claude-v2:1", "claude-instant-1.2"):
        assert av.seen(model, 100, 100, None, {}).tokens is None, model


def test_detail_is_no_anthropic_setting_and_says_so():
    seen = av.seen(STANDARD_MODEL, 1000, 1000, "low", {})
    assert seen.tokens == 1296  # not the 85 OpenAI's low detail would cost
    assert seen.notes == ("detail: low — Anthropic has no detail setting; it is not sent",)
    assert av.seen(STANDARD_MODEL, 1000, 1000, None, {}).notes == ()


def test_limits_of_the_claude_api():
    rules = av.limits("claude-sonnet-4-5")
    assert rules.max_images == 100  # a 200k-token context window
    assert av.limits("claude-opus-4-6").max_images == 600  # 1M
    assert av.limits("claude-sonnet-4-6").max_images == 600
    assert av.limits("claude-haiku-4-5").max_images == 100
    assert av.limits("claude-opus-5").max_images == 600
    assert av.limits("claude-mythos-preview").max_images == 600
    # 10 MB of base64 (10 × 2^20 characters) holds 7,864,320 bytes; 32 MB of it 25,165,824.
    assert rules.max_image_bytes == 7_864_320
    assert rules.max_request_bytes == 25_165_824
    assert av.decoded_limit(av.PARTNER_IMAGE_BASE64) == 3_932_160  # Bedrock's 3.75 MB
    assert (rules.max_side, rules.many_images, rules.many_max_side) == (8000, 20, 2000)
    assert rules.formats == {"image/jpeg", "image/png", "image/gif", "image/webp"}
    assert rules.source.startswith(av.VISION_URL)


def _img(width, height, size=1000, mime="image/png") -> Image:
    img = Image(message=0, part=0, origin="base64")
    img.data, img.mime, img.width, img.height = b"x" * size, mime, width, height
    return img


def test_estimate_and_preflight_on_the_anthropic_route():
    images = [_img(1920, 1080), _img(200, 200, mime="image/bmp")]
    est = estimate.estimate("anthropic", STANDARD_MODEL, images, [])
    assert [e.seen.tokens for e in est.images] == [1560, 64]
    assert est.image_tokens == 1624
    assert {(p.image, p.limit) for p in est.problems} == {(1, "formats")}
    # 21 images of 3000 px: past 20 images each must be at most 2000 px a side.
    many = [_img(3000, 1000) for _ in range(21)]
    problems = estimate.estimate("anthropic", STANDARD_MODEL, many, []).problems
    assert {p.limit for p in problems} == {"max_side=2000"}
    assert len(problems) == 21
