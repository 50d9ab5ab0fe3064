"""Replay in a real browser: a record with an image, sent to OpenAI, replayed on Claude (the
fakes) from its request page; both answers side by side with a diff, then links both ways."""

import base64

import pytest

from gateway.models import Provider
from tests.browser.conftest import ARTIFACTS
from tests.conftest import SHARED_IMAGES
from tests.ui.logs import make_log

pytestmark = pytest.mark.browser
CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()


@pytest.fixture
def claude(transactional_db, fake_anthropic) -> Provider:
    record = Provider(
        slug="claude",
        name="Claude",
        kind="anthropic",
        base_url=f"{fake_anthropic.url}/v1",
        default_model="claude-sonnet-4-5",
    )
    record.set_credential("api_key", "sk-ant-browser")
    record.save()
    return record


def test_it_replays_a_record_with_an_image_on_another_provider(
    page, live_server, claude, fake_anthropic
):
    log = make_log("What animal is this?", "A dog, probably.", images=[CAT])
    page.goto(f"{live_server.url}/logs/{log.id}/")
    page.get_by_role("link", name="Replay", exact=True).click()
    form = page.locator("form.replay-form")
    form.wait_for()
    form.get_by_label("Provider", exact=True).select_option("@claude")
    assert form.get_by_label("Model", exact=True).input_value() == ""
    assert "iris-blob:" in form.locator("textarea[name=body]").input_value()
    form.get_by_role("button", name="Run").click()

    compare = page.locator("#replay-compare")
    compare.wait_for()
    sides = compare.locator(".cmp-side")
    assert "A dog, probably." in sides.nth(0).inner_text()
    assert "You said: What animal is this?" in sides.nth(1).inner_text()
    diff = compare.locator("pre.diff")
    assert diff.locator("del").first.inner_text().strip()
    assert diff.locator("ins").first.inner_text().strip()
    # The log writer writes the replay; the comparison polls until it can link to it.
    record = compare.get_by_role("link", name="the replay’s record")
    record.wait_for(timeout=15_000)
    assert "/replays/" in page.url  # the comparison's own address, pushed
    page.screenshot(path=str(ARTIFACTS / "replay-compare.png"), full_page=True)

    sent = fake_anthropic.received[-1].json()
    image = sent["messages"][0]["content"][1]
    assert base64.b64decode(image["source"]["data"]) == CAT  # the stored bytes, as Claude's
    assert sent["model"] == "claude-sonnet-4-5"

    record.click()
    page.get_by_text("Replay of").wait_for()
    page.get_by_role("link", name=f"#{log.id}", exact=True).click()
    page.locator(".replay-list").wait_for()
    assert "@claude" in page.locator(".replay-list").inner_text()
