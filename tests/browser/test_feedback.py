"""Feedback in a real browser: feedback sent to POST /v1/feedback (over the live server's
socket) shows on the request page; the thumbs, a label and a comment are saved by htmx."""

import httpx
import pytest

from feedback.models import Feedback
from gateway.models import ApiKey
from tests.browser.conftest import ARTIFACTS
from tests.ui.logs import make_log

pytestmark = pytest.mark.browser


def test_feedback_from_the_api_shows_on_the_page_and_the_widget_saves(page, live_server):
    log = make_log("Where is the cat?", "Top left.", trace_id="conv-cat")
    key = ApiKey.generate("app", can_read_logs=False)[1]
    response = httpx.post(
        f"{live_server.url}/v1/feedback",
        json={"trace_id": "conv-cat", "value": -6, "weight": 0.5, "metadata": {"_user": "u9"}},
        headers={"x-portkey-api-key": key},
    )
    assert response.status_code == 200, response.text

    page.goto(f"{live_server.url}/logs/{log.id}/")
    entry = page.locator(".fb-entry[data-source=api]")
    assert entry.locator(".fb-value").inner_text() == "−6"
    assert "u9" in entry.inner_text() and "× 0.5" in entry.inner_text()

    page.get_by_role("button", name="Thumbs up").click()
    page.wait_for_selector(".fb-up[aria-pressed=true]")  # htmx swapped the widget
    page.get_by_label("Add a label").fill("wrong-box")
    page.get_by_label("Add a label").press("Enter")  # Enter adds the label, no thumb changes
    page.wait_for_selector(".fb-label:has-text('wrong-box')")
    page.locator(".fb-more summary").click()
    page.get_by_label("Comment").fill("The box is on the dog.")
    page.locator(".fb-more").get_by_role("button", name="Save").click()
    page.wait_for_selector(".fb-entry[data-source=ui] .fb-comment")
    page.screenshot(path=ARTIFACTS / "feedback.png", full_page=False)

    mine = Feedback.objects.get(source="ui")
    assert (mine.value, mine.labels, mine.comment) == (1, ["wrong-box"], "The box is on the dog.")
    assert mine.trace_id == log.request_id and mine.user_name == "ann"
    assert page.locator(".fb-score").inner_text() == "-2"  # −6 × 0.5 + 1

    page.get_by_role("button", name="Remove label wrong-box").click()
    page.wait_for_selector(".fb-label", state="detached")
    mine.refresh_from_db()
    assert mine.labels == [] and mine.value == 1
