"""A PDF beside an image in a real browser (Playwright driving Debian's chromium): the image and
every page picture render, more pages load on demand, and a page opens large.

Skips when chromium is missing, unless IRIS_REQUIRE_BROWSER=1 (then it fails)."""

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.ui.logs import DEMO_IMAGES, make_log, pdf

pytestmark = pytest.mark.browser


PAGES = 11  # more than a card shows at once (8)


def _rendered(page, selector: str = "img") -> list[tuple[str, int, int]]:
    """Each matching <img>: its alt and natural size, once all are loaded."""
    page.wait_for_function(
        "(s) => [...document.querySelectorAll(s)].every((i) => i.complete)", arg=selector
    )
    script = "(s) => [...document.querySelectorAll(s)].map((i) => [i.alt, i.naturalWidth, "
    script += "i.naturalHeight])"
    return [tuple(found) for found in page.evaluate(script, selector)]


def test_an_image_and_every_page_of_a_pdf_render_and_a_page_opens_large(page, live_server):
    # Portrait pages (200×300 pt), each its own shade: drawn 160×240, never the square placeholder.
    document = pdf(*[(200, 300, (20 * i, 120, 200 - 10 * i)) for i in range(PAGES)])
    log = make_log(
        "What do this photo and this report say?",
        "A cat, and eleven coloured pages.",
        images=[(DEMO_IMAGES / "chelsea.png").read_bytes()],
        files=[(document, "colours.pdf")],
    )
    page.goto(f"{live_server.url}/logs/")
    listed = _rendered(page, "tr.r img")
    assert len(listed) == 2 and all(width > 0 for _, width, _ in listed), listed
    assert page.locator("tr.r .doc-pages").inner_text() == f"{PAGES}p"

    page.goto(f"{live_server.url}/logs/{log.id}/")
    rendered = _rendered(page)
    assert rendered and all(width > 0 for _, width, _ in rendered), rendered
    assert page.locator(".img-card img").count() == 1
    card = page.locator(".doc-card")
    assert "colours.pdf" in card.inner_text() and f"{PAGES} pages" in card.inner_text()
    pages = _rendered(page, ".doc-page img")
    assert [alt for alt, _, _ in pages] == [f"Page {n}" for n in range(1, 9)]
    assert all((w, h) == (160, 240) for _, w, h in pages), pages
    page.screenshot(path=ARTIFACTS / "document-detail.png", full_page=True)

    card.get_by_text(f"+{PAGES - 8} more pages").click()
    page.wait_for_function(f"document.querySelectorAll('.doc-page img').length === {PAGES}")
    assert page.locator(".doc-more").count() == 0
    card.locator(".doc-page").last.scroll_into_view_if_needed()  # the added ones load lazily
    pages = _rendered(page, ".doc-page img")
    assert [alt for alt, _, _ in pages] == [f"Page {n}" for n in range(1, PAGES + 1)]
    assert all((w, h) == (160, 240) for _, w, h in pages), pages

    # A click opens the image viewer (tests/browser/test_viewer.py); the link's page itself:
    page.goto(live_server.url + card.locator(".doc-page[data-page='10'] a").get_attribute("href"))
    page.wait_for_url(f"**/pages/10/?log={log.id}")
    large = _rendered(page, ".doc-large img")
    assert large == [(f"Page 10 of {PAGES}", 1067, 1600)], large
    box = page.locator(".doc-large img").bounding_box()
    assert box["width"] > 300  # shown large, not as a thumbnail
    page.screenshot(path=ARTIFACTS / "document-page.png")
    page.locator("a[rel=next]").click()
    page.wait_for_url(f"**/pages/11/?log={log.id}")
    assert _rendered(page, ".doc-large img")[0][1] == 1067
    page.get_by_text(f"← Request #{log.id}").click()
    page.wait_for_url(f"{live_server.url}/logs/{log.id}/")
