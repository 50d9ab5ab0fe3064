"""Grounding overlays in a real browser: a Gemini box_2d answer drawn where its coordinates
say over the thumbnail, a label toggled off and on, the convention switch, the image picker."""

import io
import json

import pytest
from PIL import Image as PILImage
from playwright.sync_api import expect

from gateway.models import LogImage
from tests.browser.conftest import ARTIFACTS
from tests.ui.logs import DEMO_IMAGES, make_log, png

pytestmark = pytest.mark.browser


def _photo(size: tuple[int, int]) -> bytes:
    with PILImage.open(DEMO_IMAGES / "rocket.jpg") as img:
        big = img.convert("RGB").resize(size, PILImage.Resampling.BICUBIC)
    out = io.BytesIO()
    big.save(out, "PNG")
    return out.getvalue()


def _loaded(page, img) -> None:
    page.wait_for_function("(i) => i.complete && i.naturalWidth > 0", arg=img.element_handle())


def _near(actual: dict, expected: dict, slack: float = 2.0) -> bool:
    return all(abs(actual[k] - expected[k]) <= slack for k in ("x", "y", "width", "height"))


def test_gemini_boxes_are_drawn_where_the_coordinates_say(page, live_server):
    boxes = [
        {"box_2d": [100, 200, 500, 800], "label": "rocket"},
        {"box_2d": [600, 50, 950, 300], "label": "<b>launch pad</b>"},
    ]
    reply = "Found them:\n```json\n" + json.dumps(boxes, indent=2) + "\n```"
    log = make_log("Detect", reply, images=[_photo((1000, 800))], model="gemini-2.5-flash")
    page.goto(f"{live_server.url}/logs/{log.id}/")
    page.wait_for_selector("#feedback form")  # loads after the page: measure after it

    panel = page.locator(".gr-panel")
    expect(panel).to_contain_text("Gemini box_2d, 0–1000 normalised, [ymin, xmin, ymax, xmax]")
    expect(panel).to_contain_text("<b>launch pad</b>")  # shown as text, never as markup
    thumb = page.locator(".img-stack img").first
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    img = thumb.bounding_box()
    assert img["width"] > 200  # the 240 px card, not a collapsed box

    def expected(ymin, xmin, ymax, xmax):
        return {
            "x": img["x"] + img["width"] * xmin / 1000,
            "y": img["y"] + img["height"] * ymin / 1000,
            "width": img["width"] * (xmax - xmin) / 1000,
            "height": img["height"] * (ymax - ymin) / 1000,
        }

    rocket = page.locator('.gr-overlay .gr-shape[data-label="l0"] rect')
    pad = page.locator('.gr-overlay .gr-shape[data-label="l1"] rect')
    got = rocket.bounding_box()
    assert _near(got, expected(100, 200, 500, 800)), (got, expected(100, 200, 500, 800), img)
    assert _near(pad.bounding_box(), expected(600, 50, 950, 300))
    assert rocket.evaluate("(r) => getComputedStyle(r).stroke") != pad.evaluate(
        "(r) => getComputedStyle(r).stroke"
    )  # a colour per label
    page.locator(".img-card").first.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "grounding-boxes.png", full_page=False)

    toggle = panel.get_by_label("rocket")
    toggle.uncheck()
    expect(rocket).to_be_hidden()
    expect(pad).to_be_visible()
    toggle.check()
    expect(rocket).to_be_visible()
    assert _near(rocket.bounding_box(), expected(100, 200, 500, 800))


def test_the_convention_switch_and_the_image_picker(page, live_server):
    boxes = [{"label": "a", "x1": 100, "y1": 50, "x2": 900, "y2": 700}]
    log = make_log("Find", json.dumps(boxes), images=[png((400, 300)), _photo((2000, 1500))])
    first, last = LogImage.objects.filter(log=log).order_by("part_index")
    page.goto(f"{live_server.url}/logs/{log.id}/")
    page.wait_for_selector("#feedback form")  # loads after the page: measure after it
    over_last = page.locator(f'svg.gr-overlay[data-image="{last.id}"]')
    thumb = page.locator(f"#image-{last.id} .img-stack img")
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    img = thumb.bounding_box()
    shown = over_last.locator(".gr-layer:visible rect")
    expect(shown).to_have_count(1)
    absolute = {  # pixels of the 2000×1500 original
        "x": img["x"] + img["width"] * 100 / 2000,
        "y": img["y"] + img["height"] * 50 / 1500,
        "width": img["width"] * 800 / 2000,
        "height": img["height"] * 650 / 1500,
    }
    assert _near(shown.bounding_box(), absolute)

    page.locator("select[data-gr-group=g0]").select_option("xyxy-n1000")
    thousandths = {
        "x": img["x"] + img["width"] * 0.1,
        "y": img["y"] + img["height"] * 0.05,
        "width": img["width"] * 0.8,
        "height": img["height"] * 0.65,
    }
    expect(over_last.locator('.gr-layer[data-conv="xyxy-abs"]')).to_be_hidden()
    assert _near(over_last.locator(".gr-layer:visible rect").bounding_box(), thousandths)

    over_first = page.locator(f'svg.gr-overlay[data-image="{first.id}"]')
    expect(over_first).to_be_hidden()
    page.locator("select[data-gr-image]").select_option(str(first.id))
    expect(over_first).to_be_visible()
    expect(over_last).to_be_hidden()
