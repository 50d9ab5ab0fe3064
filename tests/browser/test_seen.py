""" "As the model saw it" in a real browser: the toggle swaps the original for the resized
picture, with the tile grid drawn over it and the tokens of each tile.

OpenAI's rule (https://platform.openai.com/docs/guides/images-vision#calculating-costs, read
2026-11-26), detail high: a 2048×1366 photo fits 2048×2048 as it is, then its shortest side is
scaled to 768 px: 1151×768 (1366 → 768 is ×0.5622, 2048 × 0.5622 = 1151.4, rounded down);
3×2 tiles of 512 px, 85 + 6 × 170 = 1105 tokens.
"""

import io
from decimal import Decimal

import pytest
from PIL import Image as PILImage
from playwright.sync_api import expect

from gateway.models import LogImage, RequestLog
from tests.browser.conftest import ARTIFACTS
from tests.ui.logs import DEMO_IMAGES, make_log

pytestmark = pytest.mark.browser

GRID = {
    "kind": "tiles",
    "cols": 3,
    "rows": 2,
    "cell": 512,
    "tokens_per_cell": 170,
    "base_tokens": 85,
}  # noqa: E501


def _photo() -> bytes:
    """The demo rocket, 640×427, enlarged to a camera-sized 2048×1366 JPEG."""
    with PILImage.open(DEMO_IMAGES / "rocket.jpg") as img:
        big = img.convert("RGB").resize((2048, 1366), PILImage.Resampling.BICUBIC)
    out = io.BytesIO()
    big.save(out, "JPEG", quality=90)
    return out.getvalue()


def _logged() -> tuple[RequestLog, LogImage]:
    log = make_log(
        "What is written on the rocket?", images=[_photo()], model="gpt-4o", detail="high"
    )
    image = log.images.get()
    LogImage.objects.filter(pk=image.pk).update(
        seen_width=1151, seen_height=768, grid=GRID, estimated_tokens=1105
    )
    RequestLog.objects.filter(pk=log.pk).update(
        prompt_tokens=1120,
        estimated_prompt_tokens=1113,
        cost_usd=Decimal("0.00287"),
        cost_breakdown={
            "total": "0.00287",
            "currency": "USD",
            "source": "test prices",
            "lines": [
                {
                    "kind": "input",
                    "quantity": 1120,
                    "unit": "token",
                    "usd_per_million": "2.50",
                    "usd": "0.0028",
                },  # noqa: E501
                {
                    "kind": "output",
                    "quantity": 7,
                    "unit": "token",
                    "usd_per_million": "10.00",
                    "usd": "0.00007",
                },  # noqa: E501
            ],
            "input_usd_per_million": "2.50",
            "image_input_usd_per_million": None,
            "unknown": [],
        },
    )
    return log, image


def test_as_the_model_saw_it_toggles_the_resized_picture_and_its_grid(page, live_server):
    log, image = _logged()
    page.goto(f"{live_server.url}/logs/{log.id}/")
    page.wait_for_selector("#feedback form")  # loads after the page: measure after it
    card = page.locator(f"#image-{image.id}")
    original = card.locator(".img-stack img")
    resized = card.locator(".seen-pic img")
    assert original.is_visible() and resized.count() == 0
    assert page.evaluate("document.images.length") == 1  # the page holds the original only
    requested = (
        "performance.getEntriesByType('resource').some(e => e.name.includes('/seen-images/'))"
    )
    assert page.evaluate(requested) is False  # the resized picture loads only when asked for

    card.get_by_label("As the model saw it").check()
    expect(resized).to_be_visible()  # fetched with its grid by the toggle
    assert not original.is_visible()
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=resized.element_handle()
    )
    assert resized.evaluate("(img) => [img.naturalWidth, img.naturalHeight]") == [1151, 768]

    grid = card.locator("svg.seen-grid")
    assert grid.get_attribute("data-cols") == "3" and grid.get_attribute("data-rows") == "2"
    assert grid.locator("line.v").count() == 2 and grid.locator("line.h").count() == 1
    labels = grid.locator("text")
    assert labels.all_text_contents() == ["170"] * 6

    # Drawn over the picture: the grid covers it exactly, the first vertical line at 512 of
    # 1151 seen pixels, and each label in a different tile.
    box, over = resized.bounding_box(), grid.bounding_box()
    assert all(abs(box[k] - over[k]) < 1 for k in ("x", "y", "width", "height")), (box, over)
    line = grid.locator("line.v").first.bounding_box()
    expected = box["x"] + box["width"] * 512 / 1151
    assert abs(line["x"] + line["width"] / 2 - expected) < 1.5, (line, expected)
    tiles = set()
    for label in labels.all():
        b = label.bounding_box()
        cx, cy = b["x"] + b["width"] / 2 - box["x"], b["y"] + b["height"] / 2 - box["y"]
        scale = box["width"] / 1151
        tiles.add((int(cx / scale // 512), int(cy / scale // 512)))
    assert tiles == {(c, r) for c in range(3) for r in range(2)}

    facts = card.locator(".seen-facts").inner_text()
    assert "1151×768 px" in facts and "downscaled 1.8×" in facts  # 2048 / 1151 = 1.78
    assert "6 tiles × 170 + 85 base = 1,105 tokens" in facts
    assert "$0.0027625" in facts  # 1105 × 2.50 / 1e6
    assert page.locator(".cost-total").inner_text() == "$0.00287"
    card.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "seen-grid.png", full_page=True)

    card.get_by_label("As the model saw it").uncheck()
    assert original.is_visible() and not resized.is_visible()
    card.get_by_label("As the model saw it").check()  # shown again, not fetched twice
    assert resized.is_visible() and card.locator("svg.seen-grid").count() == 1
