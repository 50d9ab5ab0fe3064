"""/logs/analytics/ in a real browser: uPlot draws a chart per series with a line per group,
and a filter change redraws them through htmx. A screenshot lands in test-artifacts/."""

import pytest

from gateway.errors import GatewayError
from tests.browser.conftest import ARTIFACTS
from tests.ui.analytics_logs import (  # noqa: F401 (fixtures)
    PNG_SMALL,
    logged,
    prices,
)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("prices")]
WINDOW = "since=2026-11-20T10:00&until=2026-11-20T13:00"
CHARTS = "window.irisCharts"


@pytest.fixture
def logs(transactional_db):
    logged(5, latency=100, ttft=40, images=[PNG_SMALL])
    logged(20, latency=300, ttft=120, usage=(2000, 100))
    logged(
        40,
        provider="anthropic",
        model="claude-sonnet-4-5",
        latency=50,
        error=GatewayError(429, "Slow down.", code="rate_limit"),
    )
    logged(70, model="gpt-4o-mini", latency=1000, usage=(500, 50))
    logged(150, provider="anthropic", model="claude-sonnet-4-5", latency=2000, usage=(3000, 300))


def _drawn(page, charts: int, lines: int) -> None:
    page.wait_for_function(
        f"{CHARTS} && {CHARTS}.length === {charts}"
        f" && {CHARTS}.every((u) => u.series.length === {lines} + 1)"
    )


def test_it_draws_a_chart_per_series_and_redraws_on_a_filter(logs, page, live_server):
    # logs first: the list the page signs in on caches the providers it offers.
    page.get_by_role("link", name="Analytics").click()
    page.wait_for_url(f"{live_server.url}/logs/analytics/")
    page.goto(f"{live_server.url}/logs/analytics/?{WINDOW}&group=model&bucket=hour")
    _drawn(page, 10, 3)
    assert page.locator(".chart .uplot canvas").count() == 10
    legend = page.locator(".chart[data-series=requests] .u-legend").inner_text()
    assert "gpt-4o" in legend and "claude-sonnet-4-5" in legend and "gpt-4o-mini" in legend
    # Each chart holds the three hours and a line per model; the requests chart's lines
    # carry the counts: claude 1, 0, 1; gpt-4o 2, 0, 0; gpt-4o-mini 0, 1, 0.
    data = page.evaluate(f"{CHARTS}[0].data.map((column) => [...column])")
    assert [len(column) for column in data] == [3, 3, 3, 3]
    assert data[1:] == [[1, 0, 1], [2, 0, 0], [0, 1, 0]]
    # The first line is drawn: its colour (#5b5bd6) is on the canvas.
    painted = page.evaluate(
        """() => {
          const canvas = document.querySelector(".chart[data-series=requests] canvas");
          const { width, height } = canvas;
          const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data;
          let hits = 0;
          for (let i = 0; i < pixels.length; i += 4)
            if (pixels[i] === 91 && pixels[i + 1] === 91 && pixels[i + 2] === 214) hits++;
          return hits;
        }"""
    )
    assert painted > 20
    page.screenshot(path=str(ARTIFACTS / "analytics.png"), full_page=True)
    page.select_option("select[name=provider]", "anthropic")
    _drawn(page, 10, 1)
    assert "provider=anthropic" in page.url
    assert page.evaluate(f"{CHARTS}[0].data[1]") == [1, 0, 1]
    assert page.locator(".a-summary tbody tr").count() == 1


def test_group_names_from_metadata_are_text(logs, page, live_server):
    evil = '<img src=x onerror="window.__pwned = 1">'
    logged(10, metadata={"app": evil})
    page.goto(f"{live_server.url}/logs/analytics/?{WINDOW}&group=metadata&meta_key=app")
    _drawn(page, 10, 2)  # the evil value, and "(not set)"
    assert evil in page.locator(".chart[data-series=requests] .u-legend").inner_text()
    assert evil in page.locator(".a-summary").inner_text()
    assert page.evaluate("window.__pwned") is None


def test_a_range_read_in_two_answers_is_redrawn_complete(
    transactional_db, page, live_server, settings
):
    """Grouped by metadata the charts read the log: the first answer holds the newest
    ANALYTICS_FIRST_LOG_ROWS records and says the rest is being read; its follow-up
    (rows=all) replaces the charts with the whole range and the note goes."""
    settings.ANALYTICS_FIRST_LOG_ROWS = 2
    for minutes, app in ((5, "ocr"), (20, "ocr"), (70, "chat"), (150, "ocr"), (160, "chat")):
        logged(minutes, metadata={"app": app})
    held = []  # the follow-up, held until the first answer is checked
    page.route("**/logs/analytics/?*rows=all*", lambda route: held.append(route))
    page.goto(f"{live_server.url}/logs/analytics/?{WINDOW}&group=metadata&meta_key=app")
    _drawn(page, 10, 2)
    note = page.locator(".a-warning")
    assert "the rest of the range is being read" in note.inner_text()
    first = page.evaluate(f"{CHARTS}[0].data.slice(1).map((line) => [...line])")
    assert sum(map(sum, first)) == 2  # the two newest records, at 150 and 160 minutes
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the page never asked for the rest of the range"
    held[0].continue_()
    page.wait_for_function(
        f"{CHARTS} && {CHARTS}.length === 10 && {CHARTS}[0].data.slice(1)"
        ".reduce((n, line) => n + line.reduce((a, b) => a + (b || 0), 0), 0) === 5"
    )
    assert page.locator(".a-warning").count() == 0
    whole = page.evaluate(f"{CHARTS}[0].data.slice(1).map((line) => [...line])")
    assert sorted(map(sum, whole)) == [2, 3]  # chat 2, ocr 3: every record of the range
