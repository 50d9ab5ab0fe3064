"""OpenAI's image rules (gateway/providers/openai_vision.py) against the worked examples of
https://developers.openai.com/api/docs/guides/images-vision, read 2026-11-26:
- "Cost calculation examples for a model with a 1,536-patch budget": 1024×1024 → 1024
  patches; 1800×2400 → 1056×1408, 1452 patches.
- The tile examples "for gpt-4o" (1024×1024 high → 765; 2048×4096 high → 1105; 4096×8192
  low → 85), printed on the same page until its 2025 revisions and on Azure's copy of the
  rule; the current page keeps the rule and the constants table they follow from.
Every other expected number is worked out by hand in the comment beside it."""

import pytest

from gateway import estimate, vision
from gateway.images import Image
from gateway.providers import openai_vision as ov
from gateway.vision import Grid


def see(model, width, height, detail="high", options=None):
    return ov.seen(model, width, height, detail, options or {})


# --- Tile-based families -----------------------------------------------------------------


def test_gpt_4o_1024_square_at_high_detail_is_765_tokens():
    # No fit needed; the shortest side 1024 → 768: 768×768, 2×2 tiles, 170 × 4 + 85 = 765.
    s = see("gpt-4o", 1024, 1024)
    assert (s.width, s.height, s.tokens) == (768, 768, 765)
    assert s.grid == Grid("tiles", 2, 2, 512, 170, 85)


def test_gpt_4o_2048x4096_at_high_detail_is_1105_tokens():
    # Fit in 2048²: 1024×2048; shortest side → 768: 768×1536; 2×3 tiles; 170 × 6 + 85 = 1105.
    s = see("gpt-4o", 2048, 4096)
    assert (s.width, s.height, s.tokens) == (768, 1536, 1105)
    assert s.grid == Grid("tiles", 2, 3, 512, 170, 85)


def test_low_detail_is_the_base_alone_whatever_the_size():
    # 4096×8192 at low: 85 (the page's example). The model gets a 512-px version: 256×512.
    s = see("gpt-4o", 4096, 8192, "low")
    assert (s.width, s.height, s.tokens, s.grid) == (256, 512, 85, None)
    assert s.notes == ("detail: low — the model saw 512 px, a flat 85 tokens",)
    # Each family's base (the page's table): a small image too is the base alone.
    for model, base in [("gpt-5", 70), ("gpt-4o-mini", 2833), ("o3", 75)]:
        assert see(model, 100, 80, "low").tokens == base
    assert see("computer-use-preview", 3000, 3000, "low").tokens == 65


@pytest.mark.parametrize(
    ("model", "tokens"),
    [
        # 1024×1024 → 768×768, 4 tiles, each family's base + 4 × its tile price.
        ("gpt-5", 70 + 4 * 140),
        ("gpt-5-chat-latest", 70 + 4 * 140),
        ("gpt-4.1", 85 + 4 * 170),
        ("gpt-4.5-preview", 85 + 4 * 170),
        ("gpt-4o-mini", 2833 + 4 * 5667),
        ("o1", 75 + 4 * 150),
        ("o1-pro", 75 + 4 * 150),
        ("o3", 75 + 4 * 150),
        ("computer-use-preview", 65 + 4 * 129),
    ],
)
def test_each_tile_familys_base_and_tile_tokens(model, tokens):
    assert see(model, 1024, 1024).tokens == tokens


def test_small_images_are_never_enlarged():
    # 100×50: read literally the page would scale it up to 1536×768 (6 tiles, 1105); OpenAI
    # bills one tile (measured, see _tile_fit), so it stays 100×50: 85 + 170 = 255.
    s = see("gpt-4o", 100, 50)
    assert (s.width, s.height, s.tokens) == (100, 50, 255)
    one = see("gpt-4o", 1, 1)
    assert (one.width, one.height, one.tokens) == (1, 1, 255)
    # 513×500 needs two tiles side by side: 85 + 2 × 170.
    assert see("gpt-4o", 513, 500).tokens == 425


def test_extreme_aspect_ratios_on_tile_models():
    # 10000×100: fit in 2048² → 2048×20 (20.48 rounds down); shortest side 20 is under 768;
    # ⌈2048/512⌉ × ⌈20/512⌉ = 4 × 1 tiles: 85 + 4 × 170 = 765.
    s = see("gpt-4o", 10000, 100)
    assert (s.width, s.height, s.tokens) == (2048, 20, 765)
    # 1×10000: 1×2048 (the thin side never below 1 px): 1 × 4 tiles.
    t = see("gpt-4o", 1, 10000)
    assert (t.width, t.height, t.grid.cols, t.grid.rows) == (1, 2048, 1, 4)
    # 4000×3000 (a phone photo): 2048×1536 → shortest 768: 1024×768, 2 × 2 tiles: 765.
    p = see("gpt-4o", 4000, 3000)
    assert (p.width, p.height, p.tokens) == (1024, 768, 765)


def test_auto_and_no_detail_are_estimated_as_high_with_a_note():
    high = see("gpt-4o", 2048, 4096, "high")
    for detail in (None, "auto", "AUTO"):
        s = see("gpt-4o", 2048, 4096, detail)
        assert (s.width, s.height, s.tokens) == (high.width, high.height, high.tokens)
        assert s.notes == ("detail: auto — OpenAI lets the model choose; estimated as high",)
    assert high.notes == ()


def test_detail_original_or_an_unknown_level_is_unknown_on_tile_models():
    assert see("gpt-4o", 1024, 1024, "original").tokens is None
    odd = see("gpt-4o", 1024, 1024, "medium")
    assert (odd.width, odd.tokens) == (None, None)
    assert "medium" in odd.rule


# --- Patch-based families ------------------------------------------------------------------


def test_patch_example_1024_square_is_1024_patches():
    # A. ⌈1024/32⌉ × ⌈1024/32⌉ = 1024 ≤ 1536: no resize. × 1.62 = 1658.88 → 1659.
    s = see("gpt-4.1-mini", 1024, 1024)
    assert (s.width, s.height) == (1024, 1024)
    assert s.grid == Grid("patches", 32, 32, 32, 1.62, 0)
    assert s.tokens == 1659


def test_patch_example_1800x2400_shrinks_to_1056x1408_and_1452_patches():
    # A. 57 × 75 = 4275 > 1536. B. shrink = √(1024 × 1536 / (1800 × 2400)) = 0.6034;
    # 1800 × 0.6034 / 32 = 33.94 → 33, 2400 × 0.6034 / 32 = 45.25 → 45; adjusted =
    # 0.6034 × min(33/33.94, 45/45.25) = 0.5867. C. 1056×1408: 33 × 44 = 1452 patches.
    assert ov.patch_fit(1800, 2400, 1536, None) == (1056, 1408)
    # With the 2048-px maximum side too (1800×2400 is past it): the patch budget is the
    # lesser constraint, so the same 1056×1408.
    s = see("gpt-5-mini", 1800, 2400)
    assert (s.width, s.height) == (1056, 1408)
    assert (s.grid.cols, s.grid.rows) == (33, 44)
    assert s.tokens == 2352  # 1452 × 1.62 = 2352.24


@pytest.mark.parametrize(
    ("model", "multiplier"),
    [
        ("gpt-5.4-mini", 1.62),
        ("gpt-5.4-nano", 2.46),
        ("gpt-5-mini", 1.62),
        ("gpt-5-nano", 2.46),
        ("gpt-4.1-mini", 1.62),
        ("gpt-4.1-nano", 2.46),
        ("o4-mini", 1.72),
    ],
)
def test_each_patch_familys_multiplier(model, multiplier):
    # 1800×2400 → 1452 patches on every 1,536-patch family; × its multiplier, rounded.
    s = see(model, 1800, 2400)
    assert s.grid.tokens_per_cell == multiplier
    assert s.tokens == {1.62: 2352, 2.46: 3572, 1.72: 2497}[multiplier]  # 3571.92, 2497.44


def test_tiny_and_thin_images_on_patch_models():
    # 10×10: one patch; 1.62 rounds to 2.
    s = see("gpt-4.1-mini", 10, 10)
    assert (s.width, s.height, s.tokens) == (10, 10, 2)
    # 1×49152: 1 × 1536 patches fit the budget exactly, but the side is past 2048 px:
    # 1×2048, 1 × 64 patches; × 1.72 = 110.08 → 110.
    t = see("o4-mini", 1, 49152)
    assert (t.width, t.height, t.grid.cols, t.grid.rows, t.tokens) == (1, 2048, 1, 64, 110)
    # 3000×40: 94 × 2 = 188 patches, but 3000 > 2048: 2048×27, 64 × 1 = 64 patches.
    w = see("gpt-5-nano", 3000, 40)
    assert (w.width, w.height, w.grid.cols, w.grid.rows) == (2048, 27, 64, 1)


def test_the_patch_budget_holds_for_any_size():
    for width in range(33, 9000, 397):
        for height in range(17, 9000, 613):
            w, h = ov.patch_fit(width, height, 1536, 2048)
            cols, rows = vision.cells(w, h, 32)
            assert cols * rows <= 1536, (width, height, w, h)
            assert max(w, h) <= 2048
            assert w <= width and h <= height


def test_gpt_5_4_high_and_original_and_its_auto():
    # high: 2,500 patches or 2048 px. 4000×3000: 125 × 94 patches. shrink = √(1024 × 2500 /
    # 12e6) = 0.4619; 4000 × 0.4619 / 32 = 57.74 → 57; 3000 × 0.4619 / 32 = 43.30 → 43;
    # adjusted = 0.4619 × 57/57.74 = 0.4560 (below 2048/4000 = 0.512): 1824×1368, 57 × 43.
    high = see("gpt-5.4", 4000, 3000, "high")
    assert (high.width, high.height) == (1824, 1368)
    # No multiplier on the page for gpt-5.4: the pixels are known, the tokens are not.
    assert high.tokens is None and high.grid is None
    assert "2451 patches" in high.notes[-1]
    # original: 10,000 patches or 6000 px. 5000×5000: 157² patches; shrink = 0.64 exactly:
    # 3200×3200, 100 × 100 = 10,000.
    original = see("gpt-5.4", 5000, 5000, "original")
    assert (original.width, original.height) == (3200, 3200)
    # auto is high on gpt-5.4, original on gpt-5.5, as the page says.
    auto = see("gpt-5.4", 4000, 3000, None)
    assert (auto.width, auto.height) == (1824, 1368)
    assert auto.notes[0] == "detail: auto — high, as OpenAI documents for this model"
    assert (see("gpt-5.5", 5000, 5000, "auto").width) == 3200


def test_gpt_5_6_original_keeps_every_pixel_and_high_is_unknown():
    s = see("gpt-5.6", 8000, 6000, None)
    assert (s.width, s.height, s.tokens) == (8000, 6000, None)
    assert "47000 patches" in s.notes[-1]  # ⌈8000/32⌉ × ⌈6000/32⌉ = 250 × 188, no budget
    high = see("gpt-5.6", 8000, 6000, "high")  # "finite limits", not given
    assert (high.width, high.tokens) == (None, None)


def test_other_1536_patch_families_have_no_documented_multiplier():
    for model in ("gpt-5.2", "gpt-5.2-codex", "gpt-5.3-codex", "gpt-5.1-codex-mini"):
        s = see(model, 1800, 2400)
        assert (s.width, s.height, s.tokens) == (1056, 1408, None)


def test_low_detail_on_patch_models_shows_512_px_but_no_cost():
    s = see("gpt-4.1-mini", 2048, 1024, "low")
    assert (s.width, s.height, s.tokens) == (512, 256, None)
    assert "512 px" in s.notes[0]


# --- GPT Image 1 input images --------------------------------------------------------------


def test_gpt_image_1_scales_the_shortest_side_to_512():
    # 1024×1024 → 512×512: one tile, 65 + 129 = 194.
    s = see("gpt-image-1", 1024, 1024, None)
    assert (s.width, s.height, s.tokens) == (512, 512, 194)
    # 1024×1536 → 512×768: 1 × 2 tiles, 65 + 2 × 129 = 323.
    assert see("gpt-image-1", 1024, 1536, None).tokens == 323
    # 1024×1025 → 512×512 (512.5 rounds down): one tile, as OpenAI bills it (194 measured,
    # https://community.openai.com/t/vision-pricing-calculator-inaccurate-resizing-rounding-vs-api-costs/1281361).
    assert see("gpt-image-1-2025-04-15", 1024, 1025, None).tokens == 194


def test_gpt_image_1_high_input_fidelity_adds_by_shape():
    square = see("gpt-image-1", 1024, 1024, None, {"input_fidelity": "high"})
    assert square.tokens == 194 + 4160
    assert square.grid.base_tokens == 65 + 4160
    wide = see("gpt-image-1", 1536, 1024, None, {"input_fidelity": "high"})
    assert wide.tokens == 323 + 6240
    # 1100×1000 (1.1:1) is nearer square than 3:2; 1300×1000 (1.3:1) nearer landscape.
    assert see("gpt-image-1", 1100, 1000, None, {"input_fidelity": "high"}).grid.base_tokens == (
        65 + 4160
    )
    assert see("gpt-image-1", 1300, 1000, None, {"input_fidelity": "high"}).grid.base_tokens == (
        65 + 6240
    )
    assert see("gpt-image-1", 1024, 1024, None, {"input_fidelity": "low"}).tokens == 194


# --- Model names as users write them -------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("o4-mini-2025-04-16", "o4-mini"),
        ("o1-2024-12-17", "o1"),
        ("gpt-5-2025-08-07", "gpt-5"),
        ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
        ("gpt-5.4-mini-2026-03-17", "gpt-5.4-mini"),
        ("computer-use-preview-2025-03-11", "computer-use-preview"),
        ("GPT-4o", "gpt-4o"),  # Azure deployment names keep whatever case they were given
        (" gpt-4o ", "gpt-4o"),
        ("gpt-4o-prod", "gpt-4o"),
        ("gpt-4o_eastus", "gpt-4o"),
        ("gpt-5.1", None),  # a version, not a gpt-5 suffix: undocumented
        ("gpt-5.1-chat-latest", None),
        ("gpt4o", None),
        ("my-vision-deployment", None),
        ("claude-sonnet-4-6", None),
        ("", None),
    ],
)
def test_families_match_by_prefix_longest_first(model, family):
    assert ov.family(model) == family


def test_unknown_models_and_undocumented_variants_are_unknown():
    for model in ("my-vision-deployment", "gpt-5.1", "o3-mini", "o1-mini", "gpt-image-1-mini"):
        s = see(model, 1024, 1024)
        assert (s.width, s.height, s.tokens, s.grid) == (None, None, None, None), model
        assert s.rule
    # A dated snapshot costs what its family costs.
    assert see("gpt-4o-2024-11-20", 1024, 1024).tokens == 765


# --- Limits --------------------------------------------------------------------------------


def test_chat_limits_are_the_pages_numbers():
    rules = ov.limits("gpt-4o")
    assert rules.max_images == 1500
    assert rules.max_request_bytes == 512 * 1024 * 1024
    assert rules.formats == {"image/png", "image/jpeg", "image/webp", "image/gif"}
    # The page gives no per-image size or pixel limit.
    assert (rules.max_image_bytes, rules.max_side, rules.max_pixels) == (None, None, None)
    assert rules.source.startswith(ov.DOC)
    assert ov.limits("any-azure-deployment") == rules


def test_image_edit_limits():
    gpt_image = ov.limits("gpt-image-1")
    assert (gpt_image.max_images, gpt_image.max_image_bytes) == (16, 50 * 1024 * 1024)
    assert gpt_image.formats == {"image/png", "image/jpeg", "image/webp"}
    assert ov.limits("gpt-image-1.5") == gpt_image
    dalle = ov.limits("dall-e-2")
    assert (dalle.max_images, dalle.max_image_bytes, dalle.formats) == (
        1,
        4 * 1024 * 1024,
        {"image/png"},
    )


def image(width, height, detail=None, mime="image/png", size=1000):
    return Image(0, 0, "base64", detail=detail, data=b"x" * size, mime=mime, width=width,
                 height=height)  # fmt: skip


def test_estimate_and_preflight_use_these_rules_for_openai_and_azure():
    images = [image(1024, 1024, "high"), image(4096, 8192, "low")]
    for provider in ("openai", "azure-openai"):
        found = estimate.estimate(provider, "gpt-4o", images, ["hello"])
        assert [e.seen.tokens for e in found.images] == [765, 85]
        assert found.image_tokens == 850
        assert found.problems == []
    # A BMP is not among the page's formats: preflight names the image and the rule.
    bmp = estimate.estimate("openai", "gpt-4o", [image(10, 10, mime="image/bmp")], [])
    assert [(p.image, p.limit) for p in bmp.problems] == [(0, "formats")]
    # An unknown deployment: the image's cost is unknown, so is the prompt's.
    unknown = estimate.estimate("azure-openai", "prod-vision", [image(10, 10)], ["hi"])
    assert unknown.prompt_tokens is None


def test_warnings_say_low_detail_once():
    s = see("gpt-4o", 4096, 8192, "low")
    notes = vision.warnings(s, width=4096, height=8192, detail="low")
    assert [n for n in notes if n.startswith("detail")] == [s.notes[0]]
    assert "downscaled 16.0×: small text may be unreadable" in notes
