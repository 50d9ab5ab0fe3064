"""Issue 17's fixes found by a new user, in a real browser: "Clear filters" after an htmx
filter, the thumbnail strip's "+N" badge, local times, and the admin in the logs UI's look."""

import pytest
from django.core.cache import cache

from tests.browser.conftest import ARTIFACTS
from tests.ui.logs import make_log, png

pytestmark = pytest.mark.browser


def _box(page, selector: str) -> dict:
    return page.locator(selector).first.evaluate(
        "(e) => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, right: r.right, bottom: r.bottom, w: r.width, h: r.height}; }"
    )


def test_clear_filters_follows_the_form(page, live_server):
    make_log(provider="openai", model="gpt-4o")
    make_log(provider="anthropic", model="claude-sonnet-4-5")
    cache.clear()  # the page fixture's first visit cached no providers
    page.goto(f"{live_server.url}/logs/")
    clear = page.locator("#filters a.clear", has_text="Clear filters")
    assert clear.count() == 0
    page.select_option("select[name=provider]", "anthropic")
    page.wait_for_url("**provider=anthropic**")
    clear.wait_for(state="visible")
    assert page.locator("tr.r").count() == 1
    page.select_option("select[name=provider]", "")
    page.wait_for_function("!location.search.includes('provider')")
    clear.wait_for(state="detached")
    assert page.locator("tr.r").count() == 2


def test_the_strip_shows_its_more_badge_inside_the_cell(page, live_server):
    colours = [(200, 30 * i, 40) for i in range(6)]
    make_log(images=[png((8, 8), c) for c in colours])
    page.goto(f"{live_server.url}/logs/")
    badge = page.locator("td.c-thumbs .more-img")
    badge.wait_for(state="visible")
    assert badge.inner_text() == "+2"
    cell, mark = _box(page, "td.c-thumbs"), _box(page, "td.c-thumbs .more-img")
    assert mark["w"] > 0 and mark["h"] > 0
    assert cell["x"] <= mark["x"] and mark["right"] <= cell["right"], (cell, mark)
    assert cell["y"] <= mark["y"] and mark["bottom"] <= cell["bottom"], (cell, mark)
    for thumb in page.locator("td.c-thumbs img").all():
        box = thumb.bounding_box()
        assert cell["x"] <= box["x"] and box["x"] + box["width"] <= cell["right"]
    page.locator("table.log-list").screenshot(path=str(ARTIFACTS / "fixes-strip.png"))


def test_the_prompts_list_shows_ids_whole(page, live_server):
    from gateway.models import Prompt

    slugs = ["customer-support-screenshot-triage-eu-west-1", "receipt-reader-v2", "x" * 64]
    for slug in slugs:
        Prompt.objects.create(slug=slug, name="A prompt with a name", provider="@vision")
    page.goto(f"{live_server.url}/logs/prompts/")
    for slug in slugs:
        link = page.locator(f"tr[data-prompt='{slug}'] a.stretch")
        assert link.inner_text() == slug
        cell = link.evaluate("(a) => [a.parentElement.scrollWidth, a.parentElement.clientWidth]")
        assert cell[0] <= cell[1], (slug, cell)  # nothing cut off by the cell's overflow
        box, td = (
            link.bounding_box(),
            link.evaluate(
                "(a) => { const r = a.parentElement.getBoundingClientRect(); return [r.x, r.right]; }"
            ),
        )
        assert td[0] <= box["x"] and box["x"] + box["width"] <= td[1] + 0.5, (slug, box, td)
