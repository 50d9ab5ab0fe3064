"""Playwright with Debian's chromium, for the browser tests.

Skips when chromium is missing, unless IRIS_REQUIRE_BROWSER=1 (then it fails). Screenshots go
to test-artifacts/ (gitignored).
"""

import os
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch, settings, tmp_path):
    if not CHROMIUM.exists():
        if os.environ.get("IRIS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and IRIS_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls
    # are still plain sync calls, so Django's async-safety check does not apply to them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "blobs")},
        },
    }
    settings.LOG_SPOOL_DIR = tmp_path / "spool"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        # With Playwright's loop running, this thread's ORM calls got their own connections
        # (asgiref keeps them per context): close them, or PostgreSQL cannot drop the test DB.
        connections.close_all()
        chromium.close()
    cache.clear()  # the list caches its filter choices: the next test starts afresh


@pytest.fixture
def page(browser, live_server, transactional_db):
    """A browser page signed in to the logs UI as a staff user, on the list."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("ann", password="pw-for-the-browser", is_staff=True)
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(f"{live_server.url}/logs/")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", "pw-for-the-browser")
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{live_server.url}/logs/")
    yield page
    cache.clear()  # the list cached its (empty) dropdown values: not for the next test
