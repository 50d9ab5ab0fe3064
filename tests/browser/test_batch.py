"""Bulk replay in a real browser: from the list's filter, "Replay these…", five records with an
image replayed on a fake OpenAI (@slug) two at a time, and the agreement table."""

import re

import pytest
from playwright.sync_api import expect

from batches.models import Batch
from gateway import log as request_log
from gateway.models import Provider
from tests.browser.conftest import ARTIFACTS
from tests.ui.logs import make_log, png

pytestmark = pytest.mark.browser


@pytest.fixture
def provider(transactional_db, fake_openai) -> Provider:
    record = Provider(
        slug="bulk-fake", name="fake", kind="openai", base_url=f"{fake_openai.url}/v1"
    )
    record.set_credential("api_key", "sk-browser")
    record.save()
    return record


def test_bulk_replay_of_five_records_shows_the_agreement_table(page, live_server, provider):
    for n in range(5):
        prompt = f"How many cats? Take {n}"
        # The fake OpenAI answers how many images it saw and the text: three originals said
        # just that, two said something else.
        reply = f"I see 1 image(s). You said: {prompt}" if n < 3 else f"Two cats ({n})."
        make_log(prompt, reply, images=[png((8, 6), (10 * n, 90, 200))], trace_id="bulk-ui")
    make_log("not this one", trace_id="elsewhere")

    page.goto(f"{live_server.url}/logs/?trace_id=bulk-ui")
    page.get_by_role("link", name="Replay these…").click()
    page.wait_for_url(re.compile(r"/logs/batches/new/\?trace_id=bulk-ui$"))
    expect(page.locator(".matching")).to_have_text("5")
    page.fill("input[name=provider_0]", "@bulk-fake")
    page.fill("input[name=concurrency]", "2")
    page.check("input[name=agreement][value=exact]")
    page.get_by_role("button", name="Replay").click()
    page.wait_for_url(re.compile(r"/logs/batches/\d+/$"))

    results = page.locator("#batch-results")
    expect(results).to_have_attribute("data-status", "done", timeout=30_000)
    expect(page.locator(".batch-progress .count")).to_contain_text("5 of 5 done")
    expect(page.locator(".batch-progress progress")).to_have_attribute("value", "5")
    tally = page.locator(".target-tally")
    expect(tally.locator(".agreed")).to_have_text("3 of 5")
    expect(tally.locator(".rate")).to_have_text("60%")
    expect(tally).to_contain_text("@bulk-fake")
    rows = page.locator("tr.batch-row")
    expect(rows).to_have_count(5)
    expect(page.locator("td.replay.agree")).to_have_count(3)
    expect(page.locator("td.replay.differ")).to_have_count(2)
    differing = page.locator("tr.batch-row", has=page.locator("td.replay.differ")).first
    expect(differing.locator("td.original")).to_contain_text("Two cats")
    expect(differing.locator("td.replay")).to_contain_text("I see 1 image(s). You said: How many")
    page.screenshot(path=str(ARTIFACTS / "bulk-replay.png"), full_page=True)

    batch = Batch.objects.get()
    assert (batch.status, batch.done, batch.failed, batch.concurrency) == ("done", 5, 0, 2)
    assert batch.query == "trace_id=bulk-ui" and batch.created_by == "ann"
    request_log.writer.flush()  # the replays' own records, before the database goes
