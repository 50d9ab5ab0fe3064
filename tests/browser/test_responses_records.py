"""A Responses API record in a real browser (Playwright driving Debian's chromium): the image
and every page of the PDF sent in its input render, beside the output items.

Skips when chromium is missing, unless IRIS_REQUIRE_BROWSER=1 (then it fails)."""

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.ui.logs import DEMO_IMAGES, data_uri, make_responses_log, pdf, responses_body

pytestmark = pytest.mark.browser


PAGES = 3


def _rendered(page, selector: str) -> list[tuple[str, int, int]]:
    """Each matching <img>: its alt and natural size, once all are loaded."""
    page.wait_for_function(
        "(s) => [...document.querySelectorAll(s)].every((i) => i.complete)", arg=selector
    )
    script = "(s) => [...document.querySelectorAll(s)].map((i) => [i.alt, i.naturalWidth, "
    script += "i.naturalHeight])"
    return [tuple(found) for found in page.evaluate(script, selector)]


def test_a_responses_record_shows_its_image_and_every_pdf_page(page, live_server):
    photo = (DEMO_IMAGES / "chelsea.png").read_bytes()
    document = pdf(*[(200, 300, (60 * i, 120, 200 - 40 * i)) for i in range(PAGES)])
    content = [
        {"type": "input_text", "text": "What do this photo and this report say?"},
        {"type": "input_image", "image_url": data_uri(photo)},
        {
            "type": "input_file",
            "filename": "colours.pdf",
            "file_data": data_uri(document, "application/pdf"),
        },
    ]
    reply = {"type": "output_text", "text": "A cat, and <three> coloured pages.", "annotations": []}
    answer = responses_body(
        output=[
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "A cat."}],
            },
            {"type": "message", "id": "msg_1", "role": "assistant", "content": [reply]},
        ]
    )
    log = make_responses_log(
        {
            "model": "claude-sonnet-4-5",
            "instructions": "Be brief.",
            "input": [{"role": "user", "content": content}],
        },
        answer,
    )
    page.goto(f"{live_server.url}/logs/{log.id}/")

    images = _rendered(page, ".inputs .img-card img")
    assert len(images) == 1 and images[0][1] > 0, images
    assert images[0][0] == "Image 1 of message 0"
    card = page.locator(".doc-card")
    assert "colours.pdf" in card.inner_text() and f"{PAGES} pages" in card.inner_text()
    pages = _rendered(page, ".doc-page img")
    assert [alt for alt, _, _ in pages] == [f"Page {n}" for n in range(1, PAGES + 1)]
    assert all((w, h) == (160, 240) for _, w, h in pages), pages  # drawn, not a placeholder

    # The conversation in order, and the output beside it: the text as text.
    places = page.locator(".inputs [data-place]").evaluate_all(
        "(nodes) => nodes.map((n) => n.dataset.place)"
    )
    assert places == ["instructions", "input[0]"]
    output = page.locator(".output")
    assert output.locator(".reply-text, .text").last.inner_text() == (
        "A cat, and <three> coloured pages."
    )
    summary = output.locator("details.reasoning")
    assert not summary.evaluate("(d) => d.open")
    assert not summary.get_by_text("A cat.").is_visible()
    summary.locator("summary").click()
    assert summary.get_by_text("A cat.").is_visible()
    page.screenshot(path=ARTIFACTS / "responses-detail.png", full_page=True)
