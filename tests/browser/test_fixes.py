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
    page.wait_for_function("document.querySelector('#totals').innerText.includes('request')")
    assert page.locator("#totals").inner_text().startswith("1 request ")
    page.select_option("select[name=provider]", "")
    page.wait_for_function("!location.search.includes('provider')")
    clear.wait_for(state="detached")
    assert page.locator("tr.r").count() == 2
    page.wait_for_function("document.querySelector('#totals').innerText.startsWith('2 requests')")


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
        box = link.bounding_box()
        td = link.evaluate(
            "(a) => [a.parentElement.getBoundingClientRect()].map((r) => [r.x, r.right])[0]"
        )
        assert td[0] <= box["x"] and box["x"] + box["width"] <= td[1] + 0.5, (slug, box, td)


def _providers_with_errors() -> None:
    from django.contrib.auth import get_user_model

    from gateway.models import Provider, RequestLog

    get_user_model().objects.filter(username="ann").update(is_superuser=True)

    long = "The upstream answered 500: " + "an upstream error message that goes on " * 6
    for n, kind in enumerate(["openai", "azure-openai", "anthropic"]):
        Provider.objects.create(
            slug=f"production-{kind}-eu-west-{n}",
            name=f"Production {kind} in the EU (west), team vision {n}",
            kind=kind,
            base_url=f"https://gateway-{n}.internal.example.com/some/long/path/to/the/v1/api",
        )
        RequestLog.objects.create(
            request_id=f"e{n}",
            provider_slug=f"production-{kind}-eu-west-{n}",
            status_code=500,
            error_message=long,
            latency_ms=45.676298999978826,
        )


def test_the_admin_provider_list_fits_1440_px(page, live_server):
    _providers_with_errors()
    page.goto(f"{live_server.url}/admin/gateway/provider/")
    page.wait_for_selector("#result_list")
    page.screenshot(path=str(ARTIFACTS / "fixes-admin-providers.png"), full_page=True)
    sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], sizes  # the page does not scroll sideways
    scrolls = page.evaluate(  # every box that would scroll sideways: the results' does
        "[...document.querySelectorAll('body *')].filter((e) =>"
        " ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))"
        ".map((e) => [e.id || e.className, e.scrollWidth, e.clientWidth])"
    )
    assert scrolls and all(wide <= shown for _, wide, shown in scrolls), scrolls
    right = page.evaluate("document.querySelector('#result_list').getBoundingClientRect().right")
    assert right <= page.evaluate("window.innerWidth")
    last = page.locator("#result_list td.field-last_error a").first
    assert last.is_visible() and "ago · 500" in last.inner_text()


def test_the_admin_request_log_shows_latency_in_ms(page, live_server):
    _providers_with_errors()
    page.goto(f"{live_server.url}/admin/gateway/requestlog/")
    cells = page.locator("#result_list td.field-latency").all_inner_texts()
    assert cells == ["46 ms"] * 3, cells
    assert "45.676" not in page.content()


HEADER_STYLE = """(e) => { const s = getComputedStyle(e), r = e.getBoundingClientRect();
  return {bg: s.backgroundColor, color: s.color, height: r.height, top: r.top, left: r.left,
          width: r.width, font: s.fontFamily + ' ' + s.fontSize}; }"""
BRAND_STYLE = """(e) => { const s = getComputedStyle(e), r = e.getBoundingClientRect();
  return {text: e.innerText, color: s.color, size: s.fontSize, weight: s.fontWeight,
          left: r.left, top: r.top, height: r.height}; }"""
PAGE_STYLE = """() => { const s = getComputedStyle(document.body);
  return {bg: s.backgroundColor, ink: s.color}; }"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_admin_wears_the_logs_uis_header_and_colours(page, live_server, scheme):
    _providers_with_errors()  # and ann a superuser: the admin's index lists its models
    page.emulate_media(color_scheme=scheme)
    looks = {}
    for name, path in (("logs", "/logs/"), ("admin", "/admin/")):
        page.goto(f"{live_server.url}{path}")
        header = page.locator("header.top")
        assert header.count() == 1
        nav = header.locator("nav a").all_inner_texts()
        looks[name] = {
            "header": header.evaluate(HEADER_STYLE),
            "brand": header.locator(".brand").evaluate(BRAND_STYLE),
            "logo": header.locator(".logo").evaluate(HEADER_STYLE),
            "page": page.evaluate(PAGE_STYLE),
            "nav": nav,
            "current": header.locator("nav a[aria-current]").all_inner_texts(),
        }
        header.screenshot(path=str(ARTIFACTS / f"fixes-header-{name}-{scheme}.png"))
        brand = {"x": 0, "y": 0, "width": 64, "height": 42}  # the logo and "Iris"
        looks[name]["brand_pixels"] = page.screenshot(clip=brand)
        page.screenshot(path=str(ARTIFACTS / f"fixes-{name}-{scheme}.png"))
    logs, admin = looks["logs"], looks["admin"]
    assert admin.pop("brand_pixels") == logs.pop("brand_pixels")  # the same pixels
    assert admin["header"] == logs["header"]
    assert admin["brand"] == logs["brand"] and admin["logo"] == logs["logo"]
    assert admin["nav"] == logs["nav"] == ["Requests", "Analytics", "Prompts", "Admin"]
    assert (logs["current"], admin["current"]) == (["Requests"], ["Admin"])
    assert admin["page"] == logs["page"]  # the same background and ink
    page.goto(f"{live_server.url}/admin/gateway/provider/")
    page.screenshot(path=str(ARTIFACTS / f"fixes-admin-providers-{scheme}.png"))
    dark = scheme == "dark"
    assert logs["page"]["bg"] == ("rgb(15, 17, 22)" if dark else "rgb(246, 247, 249)")


def test_the_list_shows_local_times_with_their_zone_and_utc_on_hover(browser, page, live_server):
    import datetime as dt

    from gateway.models import RequestLog

    at = dt.datetime(2026, 1, 15, 6, 3, 12, tzinfo=dt.UTC)
    log = make_log(provider="openai")
    RequestLog.objects.filter(pk=log.pk).update(created_at=at)
    # Without the script (as the server renders it): UTC, said plainly.
    html = page.request.get(f"{live_server.url}/logs/").text()
    assert '<time datetime="2026-01-15T06:03:12+00:00" data-local="time"' in html
    assert ">06:03:12</time>" in html and ">UTC</time>" in html
    context = browser.new_context(
        timezone_id="Asia/Kolkata", locale="en-GB", storage_state=page.context.storage_state()
    )
    local = context.new_page()
    local.goto(f"{live_server.url}/logs/")
    cell = local.locator("tr.r td.c-time")
    cell.locator("time[data-localised]").first.wait_for(state="attached")
    assert cell.locator("a time").inner_text() == "11:33:12"  # UTC+5:30
    zone = local.evaluate(
        "new Intl.DateTimeFormat(undefined, {timeZoneName: 'short'}).formatToParts("
        "new Date('2026-01-15T06:03:12Z')).find((p) => p.type === 'timeZoneName').value"
    )
    assert zone not in ("", "UTC")
    assert cell.locator(".sub").inner_text() == f"15 Jan {zone}"
    assert cell.locator("a time").get_attribute("title") == "2026-01-15 06:03:12 UTC"
    # Rows an htmx swap brings are localised too.
    local.select_option("select[name=status]", "2xx")
    local.wait_for_url("**status=2xx**")
    local.locator("tr.r td.c-time a time[data-localised]").wait_for(state="attached")
    assert local.locator("tr.r td.c-time a time").inner_text() == "11:33:12"
    context.close()
