"""A request routed by a fallback config, in a real browser: the list's badges and routing
filter, then the request page's attempt chain."""

import pytest

from gateway.configs.models import Config
from tests.browser.conftest import ARTIFACTS
from tests.ui.logs import make_log
from tests.ui.routed_logs import FALLBACK_CHAIN, TOO_LARGE, routed_log

pytestmark = pytest.mark.browser


def test_a_fallback_chain_is_visible_row_by_row(page, live_server):
    config = Config.objects.create(
        slug="vision-fallback", body={"strategy": {"mode": "single"}, "targets": [{}]}
    )
    log = routed_log(FALLBACK_CHAIN, config_id="vision-fallback", cache_status="MISS")
    make_log("Not routed.")
    page.goto(f"{live_server.url}/logs/")
    row = page.locator(f'tr.r[data-id="{log.id}"]')
    assert row.locator(".tag.route.retried").is_visible()
    assert row.locator(".tag.route.fell-back").is_visible()
    row.screenshot(path=ARTIFACTS / "attempt-badges.png")

    page.select_option("select[name=routing]", "fell_back")
    page.wait_for_url("**/logs/?routing=fell_back")
    page.wait_for_function("document.querySelectorAll('tr.r').length === 1")
    row.locator("a.stretch").click()
    page.wait_for_url(f"{live_server.url}/logs/{log.id}/")

    rows = page.locator("table.chain tr.attempt")
    assert rows.count() == 4
    for n in range(4):
        assert rows.nth(n).is_visible()
    targets = [rows.nth(n).get_attribute("data-target") for n in range(4)]
    assert targets == [a["target"] for a in FALLBACK_CHAIN]
    assert rows.nth(2).locator(".a-skipped").inner_text() == f"skipped: {TOO_LARGE}"
    answered = page.locator("table.chain tr.attempt.answered")
    assert answered.count() == 1 and "gemini-2.5-flash" in answered.inner_text()
    # The first attempt's error holds markup: shown as text, never run.
    assert "<script>" in rows.nth(0).locator(".err").inner_text()
    assert page.evaluate("window.__pwned") is None
    link = page.locator("#config-ref a").first
    assert link.get_attribute("href") == f"/admin/gateway/config/{config.pk}/change/"
    page.locator("section.attempts").screenshot(path=ARTIFACTS / "attempt-chain.png")
