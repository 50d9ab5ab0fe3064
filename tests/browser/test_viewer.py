"""The image viewer on the request page in a real browser (Playwright driving Debian's chromium):
zoom and pan keep the pixels where the view says they are (checked against the image's own pixels
in a screenshot), an animated GIF plays and steps frame by frame (each frame checked against
Pillow's), arrows move between the request's images, Escape closes and gives focus back, and a
compare shows two images moving together.

Skips when chromium is missing, unless IRIS_REQUIRE_BROWSER=1 (then it fails)."""

import io
import math
from pathlib import Path

import pytest
from PIL import Image as PILImage
from PIL import ImageSequence
from playwright.sync_api import expect

from gateway.models import LogImage
from tests.browser.conftest import ARTIFACTS
from tests.ui.logs import make_log, pdf

pytestmark = pytest.mark.browser

IMAGES = Path(__file__).resolve().parents[3] / "shared" / "images"
CAT, GIF, COFFEE = "chelsea.png", "no_time_for_that_tiny.gif", "coffee.png"
STAGE = '#viewer .v-pane[data-pane="0"] .v-stage'
OTHER = '#viewer .v-pane[data-pane="1"] .v-stage'


def _bytes(name: str) -> bytes:
    return (IMAGES / name).read_bytes()


@pytest.fixture
def logged(page, live_server):
    """A request with the cat (and its 226×150 "as the model saw it" copy), the GIF and a
    two-page PDF in, and the coffee out; its page open."""
    document = pdf((200, 300, (200, 40, 40)), (200, 300, (40, 200, 40)))
    log = make_log(
        "Look at these.",
        "A cat, a dancer, two pages and a coffee.",
        images=[_bytes(CAT), _bytes(GIF)],
        files=[(document, "two.pdf")],
        reply_images=[_bytes(COFFEE)],
    )
    cat, gif = log.images.filter(role="input").exclude(blob__mime="application/pdf").order_by("id")
    LogImage.objects.filter(pk=cat.pk).update(seen_width=226, seen_height=150)
    page.goto(f"{live_server.url}/logs/{log.id}/")
    return {"log": log, "cat": cat, "gif": gif, "url": live_server.url}


def _view(page, stage: str = STAGE) -> dict:
    return page.eval_on_selector(
        stage, "(s) => ({s: +s.dataset.scale, x: +s.dataset.x, y: +s.dataset.y})"
    )


def _shown(page, ending: str, stage: str = STAGE) -> None:
    """Waits until the stage shows the image whose URL ends with `ending`, loaded and drawn."""
    page.wait_for_function(
        "([sel, end]) => { const s = document.querySelector(sel);"
        " return s && (s.dataset.shown || '').endsWith(end); }",
        arg=[stage, ending],
    )


def _open(page, card_id: int) -> None:
    page.locator(f'#image-{card_id} a[title="Open full size"]').click()
    expect(page.locator("#viewer")).to_be_visible()


def _origin(page, stage: str = STAGE) -> tuple[float, float]:
    box = page.locator(stage).bounding_box()
    return box["x"], box["y"]


def _screen_pixel(page, x: int, y: int) -> tuple[int, int, int]:
    shot = page.screenshot(clip={"x": x, "y": y, "width": 1, "height": 1})
    return PILImage.open(io.BytesIO(shot)).convert("RGB").getpixel((0, 0))


def _close(a, b, tolerance: int = 8) -> bool:
    return all(abs(p - q) <= tolerance for p, q in zip(a, b, strict=True))


def test_wheel_buttons_drag_one_to_one_and_fit_move_the_pixels_as_the_view_says(page, logged):
    cat = PILImage.open(IMAGES / CAT).convert("RGB")
    _open(page, logged["cat"].id)
    _shown(page, f"/images/{logged['cat'].blob_id}/")
    stage = page.locator(STAGE)
    box = stage.bounding_box()
    fit = _view(page)
    # Fit: the whole image, as large as the stage allows, centred.
    scale = min(box["width"] / 451, box["height"] / 300)
    assert math.isclose(fit["s"], scale, rel_tol=1e-6), (fit, box)
    img = page.locator(f"{STAGE} img").bounding_box()
    assert abs(img["width"] - 451 * scale) < 1 and abs(img["height"] - 300 * scale) < 1
    assert abs(img["x"] - box["x"] - (box["width"] - img["width"]) / 2) < 1

    # The wheel zooms about the cursor: the image point under it stays under it.
    ox, oy = _origin(page)
    cx, cy = round(ox + fit["x"] + 300.5 * fit["s"]), round(oy + fit["y"] + 100.5 * fit["s"])
    px, py = (cx - ox - fit["x"]) / fit["s"], (cy - oy - fit["y"]) / fit["s"]  # the image point
    assert abs(px - 300.5) < 0.5 and abs(py - 100.5) < 0.5
    page.mouse.move(cx, cy)  # (mouse events carry whole CSS pixels)
    page.mouse.wheel(0, -300)
    page.wait_for_function(f"document.querySelector('{STAGE}').dataset.scale > {fit['s']}")
    view = _view(page)
    assert view["s"] > fit["s"] * 1.5
    assert abs((cx - ox - view["x"]) / view["s"] - px) < 0.01
    assert abs((cy - oy - view["y"]) / view["s"] - py) < 0.01
    transform = page.eval_on_selector(f"{STAGE} img", "(i) => i.style.transform")
    shown = float(transform.rsplit("scale(", 1)[1].rstrip(")"))
    assert math.isclose(shown, view["s"], rel_tol=1e-5), transform
    img = page.locator(f"{STAGE} img").bounding_box()  # the layout agrees with the view
    assert abs(img["x"] - (ox + view["x"])) < 1 and abs(img["width"] - 451 * view["s"]) < 1
    # and the screen shows the cat's own pixels there (pixelated above 2×)
    for ix, iy in ((300, 100), (120, 180), (390, 40)):
        sx, sy = ox + view["x"] + (ix + 0.5) * view["s"], oy + view["y"] + (iy + 0.5) * view["s"]
        if 0 <= sx < 1440 and box["y"] <= sy < box["y"] + box["height"]:
            got = _screen_pixel(page, int(sx), int(sy))
            assert _close(got, cat.getpixel((ix, iy))), (ix, iy, got, cat.getpixel((ix, iy)))

    # Dragging moves the image with the pointer.
    before = _view(page)
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 120, cy - 50, steps=4)
    page.mouse.up()
    after = _view(page)
    assert (
        abs(after["x"] - (before["x"] - 120)) < 0.5 and abs(after["y"] - (before["y"] - 50)) < 0.5
    )
    # the image point that was under the cursor is now 120, 50 px up-left of it, on screen too
    sx, sy = ox + after["x"] + px * after["s"], oy + after["y"] + py * after["s"]
    assert abs(sx - (cx - 120)) < 0.01 and abs(sy - (cy - 50)) < 0.01
    assert _close(_screen_pixel(page, int(sx), int(sy)), cat.getpixel((int(px), int(py))))

    # The buttons: in and out about the centre, 1:1, fit.
    page.get_by_role("button", name="Zoom in").click()
    assert math.isclose(_view(page)["s"], after["s"] * 1.5, rel_tol=1e-9)
    page.get_by_role("button", name="Zoom out").click()
    page.get_by_role("button", name="Zoom out").click()
    assert math.isclose(_view(page)["s"], after["s"] / 1.5, rel_tol=1e-9)
    page.get_by_role("button", name="Actual size, 1:1").click()
    assert _view(page)["s"] == 1
    img = page.locator(f"{STAGE} img").bounding_box()
    assert abs(img["width"] - 451) < 0.5 and abs(img["height"] - 300) < 0.5
    assert page.locator("#viewer .v-zoom").inner_text() == "100%"
    page.get_by_role("button", name="Fit to the window").click()
    assert _view(page) == fit
    page.keyboard.press("+")
    assert math.isclose(_view(page)["s"], fit["s"] * 1.5, rel_tol=1e-9)
    page.screenshot(path=ARTIFACTS / "viewer-zoomed.png")
    page.keyboard.press("0")
    assert _view(page) == fit


def test_arrows_move_between_the_images_escape_closes_and_focus_returns(page, logged):
    link = page.locator(f'#image-{logged["cat"].id} a[title="Open full size"]')
    link.focus()
    page.keyboard.press("Enter")  # from the keyboard too
    expect(page.locator("#viewer")).to_be_visible()
    _shown(page, f"/images/{logged['cat'].blob_id}/")
    count = page.locator("#viewer .v-pos")
    expect(count).to_have_text("1 / 5")  # the cat, the GIF, two PDF pages, the coffee
    expect(page.locator("#viewer .v-title")).to_have_text(
        page.locator(f"#image-{logged['cat'].id} .img-stack img").get_attribute("alt")
    )

    page.keyboard.press("ArrowRight")
    _shown(page, f"/images/{logged['gif'].blob_id}/")
    expect(count).to_have_text("2 / 5")
    page.keyboard.press("ArrowRight")
    _shown(page, "/page-1-1600.webp")  # a PDF page, large
    assert page.eval_on_selector(f"{STAGE} img", "(i) => i.naturalHeight") == 1600
    expect(page.locator("#viewer .v-title")).to_contain_text("two.pdf")
    page.keyboard.press("ArrowRight")
    _shown(page, "/page-2-1600.webp")
    page.keyboard.press("ArrowRight")
    expect(count).to_have_text("5 / 5")
    coffee = page.locator(".role-output .img-stack a").get_attribute("href")
    _shown(page, coffee)
    page.keyboard.press("ArrowRight")  # round to the first
    _shown(page, f"/images/{logged['cat'].blob_id}/")
    page.keyboard.press("ArrowLeft")
    _shown(page, coffee)

    # Zoomed in, the arrows pan instead.
    page.keyboard.press("+")
    view = _view(page)
    page.keyboard.press("ArrowRight")
    assert _view(page)["x"] < view["x"] and _view(page)["s"] == view["s"]
    expect(count).to_have_text("5 / 5")

    # Tab stays in the dialog; every control is a labelled button.
    for _ in range(20):
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('viewer').contains(document.activeElement)")
    names = page.eval_on_selector_all(
        "#viewer button", "(bs) => bs.map((b) => b.getAttribute('aria-label'))"
    )
    assert all(names) and len(names) == 11, names

    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    assert page.evaluate("document.activeElement") == link.evaluate("(a) => a")
    assert link.evaluate("(a) => a === document.activeElement")


def test_a_gif_plays_with_a_frame_counter_and_steps_frame_by_frame(page, logged):
    if not page.evaluate("'ImageDecoder' in window"):
        pytest.fail("this chromium has no ImageDecoder: frame stepping cannot be checked")
    frames = [
        f.convert("RGBA").tobytes() for f in ImageSequence.Iterator(PILImage.open(IMAGES / GIF))
    ]
    assert len(frames) == 24
    _open(page, logged["gif"].id)
    _shown(page, f"/images/{logged['gif'].blob_id}/")
    counter = page.locator("#viewer .v-frame")
    expect(counter).to_be_visible()
    expect(counter).to_contain_text("/ 24")
    first = counter.inner_text()
    page.wait_for_function(  # it plays: the counter moves on by itself
        "(t) => document.querySelector('#viewer .v-frame').value !== t", arg=first
    )
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    paused = int(counter.inner_text().split(" / ")[0])

    def canvas() -> bytes:
        pixels = page.eval_on_selector(
            f"{STAGE} canvas",
            "(c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)",
        )
        return bytes(pixels)

    def same(got: bytes, want: bytes) -> bool:
        """Equal where opaque (a transparent pixel's colour is not kept by a canvas)."""
        for i in range(0, len(want), 4):
            if want[i + 3] != got[i + 3] or (
                want[i + 3] and not _close(got[i : i + 3], want[i : i + 3], 2)
            ):
                return False
        return True

    assert page.eval_on_selector(f"{STAGE} canvas", "(c) => [c.width, c.height]") == [14, 25]
    assert same(canvas(), frames[paused - 1])
    expected = paused
    for key in ("frame-next", "frame-next", "frame-prev", "frame-next", "frame-next"):
        step = 1 if key == "frame-next" else -1
        expected = (expected - 1 + step) % 24 + 1
        page.locator(f'#viewer [data-act="{key}"]').click()
        expect(counter).to_have_text(f"{expected} / 24")
        assert same(canvas(), frames[expected - 1]), expected
        assert not same(canvas(), frames[expected % 24])  # the next frame differs
    page.keyboard.press(".")
    expect(counter).to_have_text(f"{expected % 24 + 1} / 24")
    page.keyboard.press(",")
    expect(counter).to_have_text(f"{expected} / 24")
    page.keyboard.press("k")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    page.wait_for_function(
        "(t) => document.querySelector('#viewer .v-frame').value !== t", arg=f"{expected} / 24"
    )


def test_compare_shows_two_images_that_zoom_and_pan_together(page, logged):
    cat = logged["cat"]
    _open(page, cat.id)
    _shown(page, f"/images/{cat.blob_id}/")
    page.get_by_role("button", name="Compare with another image").click()
    expect(page.locator(OTHER)).to_be_visible()
    _shown(page, f"/seen-images/{cat.id}.webp", OTHER)  # the original beside what the model saw
    assert page.eval_on_selector(f"{OTHER} img", "(i) => i.naturalWidth") == 226
    assert (
        page.get_by_role("button", name="Compare with another image").get_attribute("aria-pressed")
        == "true"
    )
    one, two = (page.locator(f"{s} img").bounding_box() for s in (STAGE, OTHER))
    assert abs(one["width"] - two["width"]) < 1  # the same width on screen, each its own shape
    assert abs(two["height"] - two["width"] * 150 / 226) < 1
    assert one["x"] + one["width"] <= two["x"]  # side by side

    ox, oy = _origin(page, OTHER)
    fit = _view(page)
    page.mouse.move(ox + 100, oy + 100)
    page.mouse.wheel(0, -400)  # zoom over the second image
    page.wait_for_function(f"document.querySelector('{STAGE}').dataset.scale > {fit['s']}")
    one, two = (page.locator(f"{s} img").bounding_box() for s in (STAGE, OTHER))
    o1, o2 = _origin(page), _origin(page, OTHER)
    assert abs(one["width"] - two["width"]) < 1
    assert abs((one["x"] - o1[0]) - (two["x"] - o2[0])) < 1  # the same place in each pane
    page.mouse.move(ox + 150, oy + 150)
    page.mouse.down()
    page.mouse.move(ox + 90, oy + 120, steps=3)
    page.mouse.up()
    moved = page.locator(f"{STAGE} img").bounding_box()
    assert abs(moved["x"] - (one["x"] - 60)) < 0.5 and abs(moved["y"] - (one["y"] - 30)) < 0.5
    page.screenshot(path=ARTIFACTS / "viewer-compare.png")

    # Another image to compare with: the output.
    page.get_by_label("Image to compare with").select_option(
        label=page.locator(".role-output .img-stack img").get_attribute("alt")
    )
    coffee = page.locator(".role-output .img-stack a").get_attribute("href")
    _shown(page, coffee, OTHER)
    one, two = (page.locator(f"{s} img").bounding_box() for s in (STAGE, OTHER))
    assert abs(one["width"] - two["width"]) < 1  # 600 px scaled to the cat's 451
    page.keyboard.press("c")
    expect(page.locator(OTHER)).to_be_hidden()


def test_pinch_zooms_about_the_fingers(page, logged):
    _open(page, logged["cat"].id)
    _shown(page, f"/images/{logged['cat'].blob_id}/")
    fit = _view(page)
    ox, oy = _origin(page)
    cx, cy = ox + fit["x"] + 200 * fit["s"], oy + fit["y"] + 150 * fit["s"]
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, spread: float) -> None:
        points = [{"x": cx - spread, "y": cy, "id": 1}, {"x": cx + spread, "y": cy, "id": 2}]
        cdp.send(
            "Input.dispatchTouchEvent",
            {"type": kind, "touchPoints": [] if kind == "touchEnd" else points},
        )

    touch("touchStart", 40)
    for spread in (50, 60, 70, 80):
        touch("touchMove", spread)
    touch("touchEnd", 80)
    view = _view(page)
    assert math.isclose(view["s"], fit["s"] * 2, rel_tol=0.01), (view, fit)
    assert abs((cx - ox - view["x"]) / view["s"] - 200) < 0.1  # the point between the fingers


def test_the_picture_the_model_saw_opens_from_its_card_and_compares_with_the_original(page, logged):
    cat = logged["cat"]
    page.locator(f"#image-{cat.id}").get_by_label("As the model saw it").check()
    seen = page.locator(f"#image-{cat.id} .seen-pic img")
    expect(seen).to_be_visible()
    expect(seen).to_have_attribute("tabindex", "0")  # reachable from the keyboard
    seen.focus()
    page.keyboard.press("Enter")
    _shown(page, f"/seen-images/{cat.id}.webp")
    expect(page.locator("#viewer .v-pos")).to_have_text("1 / 5")
    assert page.eval_on_selector(f"{STAGE} img", "(i) => i.naturalWidth") == 226
    page.keyboard.press("c")
    _shown(page, f"/images/{cat.blob_id}/", OTHER)
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    assert seen.evaluate("(i) => i === document.activeElement")


def test_without_image_decoder_a_gif_plays_as_the_browser_plays_it_and_says_so(page, logged):
    page.add_init_script("delete window.ImageDecoder")
    page.reload()
    assert page.evaluate("'ImageDecoder' in window") is False
    _open(page, logged["gif"].id)
    _shown(page, f"/images/{logged['gif'].blob_id}/")
    expect(page.locator("#viewer .v-note")).to_contain_text("cannot step through frames")
    expect(page.locator("#viewer .v-frame")).to_be_hidden()
    expect(page.locator(f"{STAGE} img")).to_be_visible()  # the <img> itself, animating
    page.keyboard.press("ArrowLeft")
    _shown(page, f"/images/{logged['cat'].blob_id}/")
    expect(page.locator("#viewer .v-note")).to_be_hidden()  # the cat is not animated


def test_a_cards_grounding_boxes_are_drawn_over_the_image_zoomed_with_it(page, logged):
    """The viewer copies whatever the grounding overlay drew in the card (an SVG in the image's
    pixels); here one is put in by hand so that this test needs only the viewer."""
    cat = logged["cat"]
    page.eval_on_selector(
        f"#image-{cat.id} .img-stack",
        """(stack) => stack.insertAdjacentHTML('beforeend', '<svg class="gr-overlay" '
        + 'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 451 300" preserveAspectRatio="none">'
        + '<rect x="100" y="50" width="200" height="100" fill="none" stroke="red"/></svg>')""",
    )
    _open(page, cat.id)
    _shown(page, f"/images/{cat.blob_id}/")
    page.keyboard.press("+")
    page.keyboard.press("+")
    view, (ox, oy) = _view(page), _origin(page)
    rect = page.locator(f"{STAGE} svg.v-overlay rect").bounding_box()
    want = (ox + view["x"] + 100 * view["s"], oy + view["y"] + 50 * view["s"])
    # (the stroke adds half its width, scaled, on every side)
    assert (
        abs(rect["x"] + view["s"] / 2 - want[0]) < 1
        and abs(rect["y"] + view["s"] / 2 - want[1]) < 1
    )
    assert abs(rect["width"] - view["s"] - 200 * view["s"]) < 1
    page.get_by_role("button", name="Next image").click()  # not over the next image
    _shown(page, f"/images/{logged['gif'].blob_id}/")
    assert page.locator(f"{STAGE} svg.v-overlay").count() == 0
