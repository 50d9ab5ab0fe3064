"""Images the model made, in a real browser (Playwright driving Debian's chromium): every output
renders, the partial images form a strip in order, an edit's mask is drawn over its image and
toggles, and an SVG output is shown without its script running.

Skips when chromium is missing, unless IRIS_REQUIRE_BROWSER=1 (then it fails)."""

import io

import pytest
from PIL import Image as PILImage

from tests.browser.conftest import ARTIFACTS
from tests.ui.logs import SVG_WITH_SCRIPT, make_image_log, mask_png, png

pytestmark = pytest.mark.browser


GREY = (200, 200, 200)


def _rendered(page) -> list[tuple[str, str, int]]:
    """Each <img> of the page: its alt, its URL and its natural width, once all are loaded."""
    page.wait_for_function("[...document.images].every((i) => i.complete)")
    return page.evaluate("[...document.images].map((i) => [i.alt, i.currentSrc, i.naturalWidth])")


def test_every_output_and_partial_image_renders_in_order(page, live_server):
    outputs = [png((64, 48), (230, 40, 40)), png((48, 64), (40, 200, 40)), png((32, 32))]
    partials = [(0, 0, png((16, 12), (9, 9, 9))), (0, 1, png((16, 12))), (1, 0, png((12, 16)))]
    log = make_image_log(
        "Three swatches",
        outputs=outputs,
        revised=["Three colour swatches <i>flat</i>"],
        partials=partials,
        stream=True,
    )
    page.goto(f"{live_server.url}/logs/")
    listed = _rendered(page)
    assert len(listed) == 3 and all(width > 0 for _, _, width in listed), listed
    assert page.locator("tr.r .strip.made img").count() == 3
    assert page.locator("tr.r .tag.ep").inner_text() == "images.generations"

    page.goto(f"{live_server.url}/logs/{log.id}/")
    rendered = _rendered(page)
    assert rendered and all(width > 0 for _, _, width in rendered), rendered
    made = page.locator(".output figure.role-output img")
    assert made.count() == 3
    assert made.evaluate_all("(imgs) => imgs.map((i) => i.naturalWidth > 0)") == [True] * 3
    assert page.locator(".revised-prompt").inner_text() == "Three colour swatches <i>flat</i>"
    strip = page.locator(".partial-strip li")
    labels = [text.removesuffix(" ↓") for text in strip.all_inner_texts()]  # ↓: download
    assert labels == ["output 0 · partial 0", "output 0 · partial 1", "output 1 · partial 0"]
    assert strip.locator("img").evaluate_all("(i) => i.every((img) => img.naturalWidth > 0)")
    page.screenshot(path=ARTIFACTS / "image-generation.png", full_page=True)


def _pixel(page, x: float, y: float) -> tuple[int, int, int]:
    """The colour shown at (x, y) of the edited image, as fractions of its box."""
    shot = page.locator(".masked-card .img-stack").screenshot()
    img = PILImage.open(io.BytesIO(shot)).convert("RGB")
    return img.getpixel((int(img.width * x), int(img.height * y)))


def test_an_edits_mask_is_drawn_over_its_image_and_toggles(page, live_server):
    mask = mask_png((120, 80), hole=(40, 20, 80, 60))  # transparent (to edit) in the middle
    log = make_image_log(
        "Put a hat on it",
        endpoint="images.edits",
        inputs=[png((120, 80), GREY), png((120, 80), (0, 0, 200))],
        mask=mask,
        outputs=[png((120, 80), (20, 20, 20))],
    )
    page.goto(f"{live_server.url}/logs/{log.id}/")
    rendered = _rendered(page)
    assert len(rendered) == 4 and all(width > 0 for _, _, width in rendered), rendered
    layers = page.locator(".masked-card .mask-layer")
    assert layers.count() == 2
    assert all(layers.nth(i).is_visible() for i in range(2))
    edited, kept = _pixel(page, 0.5, 0.5), _pixel(page, 0.1, 0.1)
    # The area to edit is tinted (more red than blue than green); the kept area is dimmed.
    assert edited[0] > edited[2] > edited[1] + 40, edited
    assert max(kept) < 130 and kept != edited, kept
    page.screenshot(path=ARTIFACTS / "image-edit-mask.png", full_page=True)

    page.locator(".mask-toggle input").uncheck()
    assert not layers.first.is_visible() and not layers.last.is_visible()
    for x, y in ((0.5, 0.5), (0.1, 0.1)):
        assert all(abs(c - g) <= 3 for c, g in zip(_pixel(page, x, y), GREY, strict=True)), (x, y)
    page.locator(".mask-toggle input").check()
    assert layers.first.is_visible()
    assert _pixel(page, 0.5, 0.5) == edited


def test_an_svg_output_renders_as_an_image_and_its_script_never_runs(page, live_server):
    log = make_image_log("A green box", outputs=[SVG_WITH_SCRIPT], output_format="svg")
    page.goto(f"{live_server.url}/logs/")
    _rendered(page)
    page.goto(f"{live_server.url}/logs/{log.id}/")
    [(alt, src, width)] = _rendered(page)
    assert alt == "Output image 0" and width == 64 and src.endswith("/")
    assert page.evaluate("window.__pwned") is None
