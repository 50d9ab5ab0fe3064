"""The provider admin in a real browser: fieldsets follow the kind, and Test connection reports
the upstream's answer or its error. Playwright drives Debian's chromium against a live server.

Skips when chromium is missing, unless IRIS_REQUIRE_BROWSER=1 (then it fails). Screenshots land
in test-artifacts/.
"""

import pytest
from django.contrib.auth import get_user_model

from gateway.models import Provider
from tests.browser.conftest import ARTIFACTS
from tests.test_admin_connection import close_probe_sessions  # noqa: F401 - autouse fixture

OPENAI_KEY = "sk-browser-test-key-0000-b7c8"

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_page(browser, live_server, written_logs):
    get_user_model().objects.create_superuser("ops", password="pw-for-the-browser")
    page = browser.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", "ops")
    page.fill("input[name=password]", "pw-for-the-browser")
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def test_it_adds_a_provider_and_tests_its_connection(admin_page, live_server, fake_openai):
    page = admin_page
    page.goto(f"{live_server.url}/admin/gateway/provider/add/")
    azure, aws = (
        page.locator("fieldset.iris-kind-azure-openai"),
        page.locator("fieldset.iris-kind-bedrock"),
    )
    page.select_option("#id_kind", "azure-openai")
    assert azure.is_visible() and not aws.is_visible()
    page.select_option("#id_kind", "bedrock")
    assert aws.is_visible() and not azure.is_visible()
    page.select_option("#id_kind", "openai")
    assert not aws.is_visible() and not azure.is_visible()

    page.locator("#id_name").press_sequentially("Local vLLM")  # keyup drives prepopulate
    assert page.input_value("#id_slug") == "local-vllm"  # prepopulated from the name
    page.fill("#id_default_model", "gpt-4o-mini")
    page.fill("#id_base_url", f"{fake_openai.url}/v1")
    page.fill("#id_api_key", OPENAI_KEY)
    page.click("input[name=_continue]")
    page.wait_for_selector("ul.messagelist")
    assert "Stored: sk-…b7c8. Leave blank to keep it." in page.content()
    assert OPENAI_KEY not in page.content()

    page.click("button.iris-test")
    page.wait_for_selector("ul.messagelist li.success")
    message = page.locator("ul.messagelist li.success").inner_text()
    assert message.startswith("@local-vllm: connection OK. gpt-4o-mini replied “I see 0 image(s).")
    assert fake_openai.last("POST").headers["authorization"] == f"Bearer {OPENAI_KEY}"
    page.screenshot(path=ARTIFACTS / "admin-test-connection.png", full_page=True)


def test_it_shows_the_upstreams_error(admin_page, live_server, fake_openai):
    record = Provider.objects.create(
        slug="no-key",
        name="No key",
        kind="openai",
        base_url=f"{fake_openai.url}/v1",
        default_model="gpt-4o",
    )
    page = admin_page
    page.goto(f"{live_server.url}/admin/gateway/provider/{record.pk}/change/")
    page.click("button.iris-test")
    page.wait_for_selector("ul.messagelist li.error")
    message = page.locator("ul.messagelist li.error").inner_text()
    assert message == "@no-key: test failed. HTTP 401: You didn't provide an API key."
    page.screenshot(path=ARTIFACTS / "admin-test-connection-error.png", full_page=True)
