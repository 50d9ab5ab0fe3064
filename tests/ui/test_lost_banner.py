"""The banner on every page counts records a killed process lost (gateway/log/tally.py),
until a developer clears the count."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from gateway.log import tally

pytestmark = pytest.mark.django_db


def lose(folder, put: int, safe: int) -> None:
    """A process's tally as a SIGKILL would leave it, then its replay's accounting."""
    folder.mkdir()
    counts = tally.Tally(folder)
    for _ in range(put):
        counts.count_put()
    counts.count_safe(safe)
    counts.close()
    tally.account_for(folder)


def test_the_banner_says_how_many_were_lost_until_cleared(staff_client, tmp_path):
    page = reverse("logs_ui:list")
    assert "lost:" not in staff_client.get(page).text
    lose(tmp_path / "dead-process", put=5, safe=3)
    html = staff_client.get(page).text
    assert "<strong>Up to 2 log records lost:</strong>" in html
    assert "LOG_JOURNAL_BEFORE_ANSWER=1" in html and "--forget-lost" in html
    call_command("replay_failed", "--forget-lost")
    assert "lost:" not in staff_client.get(page).text


def test_nobody_signed_out_sees_it(client, tmp_path):
    lose(tmp_path / "dead-process", put=1, safe=0)
    assert "lost:" not in client.get(reverse("logs_ui:login")).text
