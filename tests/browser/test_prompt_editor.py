"""The prompt editor in a real browser: create a prompt with a variable image and an uploaded
one, preview it, save a new version, run it against the fake OpenAI, find it in the logs."""

import pytest
from django.contrib.auth import get_user_model

from gateway import log as request_log
from gateway.models import Provider, RequestLog
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_logs_ui import _images_rendered, _log_in
from tests.conftest import SHARED_IMAGES

pytestmark = pytest.mark.browser


@pytest.fixture
def provider(transactional_db, fake_openai) -> Provider:
    get_user_model().objects.create_user("ann", password="pw-for-the-browser", is_staff=True)
    record = Provider(
        slug="browser-openai", name="fake", kind="openai", base_url=f"{fake_openai.url}/v1"
    )
    record.set_credential("api_key", "sk-browser")
    record.save()
    return record


def _editor_step(page, value: str) -> None:
    with page.expect_response(lambda response: "/prompts/editor/" in response.url):
        page.locator(f"button[value='{value}']").click()
    _wait_until_settled(page)


def _wait_until_settled(page) -> None:
    # htmx binds the triggers of swapped-in elements only when the swap settles (about 20 ms
    # later): a file chosen before that fires a change event nothing listens to yet.
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def test_it_creates_previews_versions_and_runs_a_prompt(
    browser,
    live_server,
    provider,
    fake_openai,
):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    _log_in(page, live_server.url)
    page.click("text=Prompts")
    page.click("text=New prompt")
    page.fill("input[name=slug]", "product")
    page.fill("input[name=name]", "Product photo")
    page.fill("input[name=provider]", "@browser-openai")
    page.fill("input[name=model]", "gpt-4o")
    page.fill("textarea[name=m-0-p-0-text]", "What is this {{thing}}?")
    _editor_step(page, "add-image:0")
    page.fill("input[name=m-0-p-1-url]", "{{photo}}")
    _editor_step(page, "add-image:0")
    with page.expect_response(lambda response: "/prompts/editor/" in response.url):
        page.set_input_files("input[name=m-0-p-2-file]", str(SHARED_IMAGES / "coffee.png"))
    page.wait_for_selector("img.p-thumb")
    assert page.input_value("input[name=m-0-p-2-url]").startswith("iris-blob:")

    page.click("button:text('Preview')")
    page.wait_for_selector("#preview [role=alert]")
    assert "Missing prompt variable(s): thing, photo." in page.inner_text("#preview")
    photo = f"{fake_openai.url}/images/rocket.jpg"
    page.fill("input[name=var-thing]", "product")
    page.fill("input[name=var-photo]", photo)
    page.click("button:text('Preview')")
    page.wait_for_selector("#preview .p-shot img")
    assert "What is this product?" in page.inner_text("#preview")
    shots = page.locator("#preview .p-shot img")
    assert shots.count() == 2
    page.wait_for_function(
        "[...document.querySelectorAll('#preview img')].every((i) => i.complete && i.naturalWidth)"
    )
    assert shots.first.get_attribute("src") == photo
    page.screenshot(path=ARTIFACTS / "prompt-preview.png", full_page=True)

    page.click("button:text('Create prompt')")
    page.wait_for_url(f"{live_server.url}/logs/prompts/product/")
    assert page.inner_text("#shown-version") == "v1 · default"
    page.fill("textarea[name=m-0-p-0-text]", "Describe this {{thing}}.")
    page.fill("input[name=note]", "shorter")
    page.click("button:text('Save as version 2')")
    page.wait_for_selector("#shown-version:text('v2 · default')")
    assert page.locator(".p-versions tbody tr").count() == 2

    page.fill("input[name=var-thing]", "product")
    page.fill("input[name=var-photo]", photo)
    page.click("button:text('Run version 2')")
    page.wait_for_selector("#run .reply-text")
    assert (
        page.inner_text("#run .reply-text") == "I see 2 image(s). You said: Describe this product."
    )
    page.screenshot(path=ARTIFACTS / "prompt-run.png", full_page=True)

    request_log.writer.flush()
    log = RequestLog.objects.get(prompt="product")
    assert (log.prompt_version, log.prompt_variables) == (2, {"thing": "product", "photo": photo})
    page.goto(f"{live_server.url}/logs/?prompt=product")
    page.click("tr.r a.stretch")
    page.wait_for_url(f"{live_server.url}/logs/{log.id}/")
    assert page.inner_text("#prompt-ref") == "product@2"
    assert "product" in page.inner_text(".prompt-vars")
    rendered = _images_rendered(page)
    assert len(rendered) == 2 and all(width > 0 for _, width in rendered), rendered
