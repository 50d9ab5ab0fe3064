"""The logs UI in a real browser: Playwright driving Debian's chromium against a live server.

Skips when chromium is missing, unless IRIS_REQUIRE_BROWSER=1 (then it fails). Screenshots of
the list and the detail page land in test-artifacts/.
"""

import pytest
from django.contrib.auth import get_user_model

from logs_ui import views
from tests.browser.conftest import ARTIFACTS
from tests.ui.logs import DEMO_IMAGES, UrlImage, make_log

EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'

pytestmark = pytest.mark.browser


@pytest.fixture
def logs(transactional_db):
    get_user_model().objects.create_user("ann", password="pw-for-the-browser", is_staff=True)
    make_log(
        "Transcribe this page.",
        "It shows the Laplace transform of f(t).",
        images=[(DEMO_IMAGES / "text.png").read_bytes()],
        provider="google",
        model="gemini-2.5-flash",
    )
    evil = make_log(
        "Say something nasty.", EVIL, images=[(DEMO_IMAGES / "coffee.jpg").read_bytes()]
    )
    cat = make_log(
        "What is in these images?",
        "A tabby cat on a wooden floor, and a rocket lifting off.",
        images=[
            (DEMO_IMAGES / "chelsea.png").read_bytes(),
            UrlImage(
                "https://images.example/rocket.jpg", (DEMO_IMAGES / "rocket.jpg").read_bytes()
            ),
        ],
        model="gpt-4o",
        metadata={"app": "tagger"},
        trace_id="trace-browser-1",
    )
    return {"cat": cat, "evil": evil}


def _log_in(page, base: str) -> None:
    page.goto(f"{base}/logs/")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", "pw-for-the-browser")
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{base}/logs/")


def _images_rendered(page) -> list:
    page.wait_for_function("[...document.images].every((i) => i.complete)")
    return page.evaluate("[...document.images].map((i) => [i.currentSrc, i.naturalWidth])")


def test_it_shows_filters_and_opens_a_request_with_its_images(browser, live_server, logs):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    _log_in(page, live_server.url)
    assert page.locator("tr.r").count() == 3
    assert page.locator("tr.r").first.locator(".prompt").inner_text() == "What is in these images?"
    assert all(width > 0 for _, width in _images_rendered(page))
    page.screenshot(path=ARTIFACTS / "logs-list.png", full_page=True)

    page.fill("input[name=q]", "tabby")
    page.wait_for_url("**/logs/?q=tabby")
    page.wait_for_function("document.querySelectorAll('tr.r').length === 1")
    page.select_option("select[name=provider]", "openai")
    page.wait_for_url("**/logs/?q=tabby&provider=openai")
    assert page.locator("tr.r").count() == 1

    page.locator("tr.r a.stretch").first.click()
    page.wait_for_url(f"{live_server.url}/logs/{logs['cat'].id}/")
    rendered = _images_rendered(page)
    assert len(rendered) == 2 and all(width > 0 for _, width in rendered), rendered
    reply = page.locator(".reply-text").bounding_box()
    image = page.locator(".inputs img").first.bounding_box()
    assert reply["x"] >= image["x"] + image["width"]  # the reply sits beside the image...
    assert reply["y"] < 900 and image["y"] < 900  # ...both in view at once
    assert "tabby cat" in page.locator(".reply-text").inner_text()
    page.locator("#raw").scroll_into_view_if_needed()
    page.wait_for_selector("#raw .jt")
    assert "iris-blob:" in page.locator("#raw").inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=ARTIFACTS / "logs-detail.png", full_page=True)

    page.set_viewport_size({"width": 420, "height": 900})
    stacked_reply = page.locator(".reply-text").bounding_box()
    stacked_image = page.locator(".inputs img").last.bounding_box()
    assert stacked_reply["y"] > stacked_image["y"]  # narrow screens: output below the inputs
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=ARTIFACTS / "logs-detail-narrow.png", full_page=True)


def test_it_shows_a_malicious_reply_as_text(browser, live_server, logs):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    _log_in(page, live_server.url)
    assert page.evaluate("window.__pwned") is None
    page.goto(f"{live_server.url}/logs/{logs['evil'].id}/")
    _images_rendered(page)
    assert page.evaluate("window.__pwned") is None
    assert page.locator(".reply-text").inner_text() == EVIL
    assert page.locator(".reply-text script, .reply-text img").count() == 0


def test_it_loads_older_rows_on_scroll_and_tails_new_ones(browser, live_server, logs, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    page = browser.new_page(viewport={"width": 1440, "height": 600})
    _log_in(page, live_server.url)
    # The server sent 2 rows and a sentinel; in view, it fetched the older row by itself.
    page.wait_for_function("document.querySelectorAll('tr.r').length === 3")
    assert page.locator("tr.more").count() == 0

    page.check("input[name=live]")
    page.wait_for_url("**/logs/?live=1")
    page.wait_for_selector("#tail-poller")
    make_log("Arrived while watching.", "Hello.")
    page.wait_for_selector("tr.r.fresh", timeout=10_000)
    make_log("And another one.", "Hi.")
    page.wait_for_function("document.querySelectorAll('tr.r.fresh').length === 2", timeout=10_000)
    # The re-rendered list's sentinel may still be fetching the oldest row: wait for it.
    page.wait_for_function("document.querySelectorAll('tr.r').length === 5", timeout=10_000)
    prompts = page.locator("tr.r .prompt").all_inner_texts()
    assert prompts[:2] == ["And another one.", "Arrived while watching."]
    assert len(set(prompts)) == len(prompts) == 5  # nothing shown twice
