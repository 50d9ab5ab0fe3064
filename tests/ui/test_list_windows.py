"""The logs list at scale: totals counted over the newest LOG_TOTALS_MAX_ROWS matches at most
(and saying so), and a time window paged by (created_at, id) so that a window in the past is
read through the created_at index.

Prices (tests/ui/analytics_logs.py): gpt-4o $2.50/$10, claude-sonnet-4-5 $3/$15 per million
input/output tokens; gpt-4o-mini has none (unknown), nor has a request without usage.
"""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from gateway import logquery
from gateway.errors import GatewayError
from gateway.logquery import LogFilter
from tests.ui.analytics_logs import (  # noqa: F401 (fixtures)
    logged,
    prices,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]
LIST = reverse("logs_ui:list")
TOTALS = {"HX-Request": "true", "HX-Target": "totals"}


@pytest.fixture
def costs():
    """Six requests, ids in time order: a $0.0045, b $0.006, unknown1, c $0.0135, tie $0.0045,
    unknown2 (a 429)."""
    return [
        logged(1, usage=(1000, 200)),
        logged(2, usage=(2000, 100)),
        logged(3, model="gpt-4o-mini", usage=(10, 1)),
        logged(4, provider="anthropic", model="claude-sonnet-4-5", usage=(3000, 300)),
        logged(5, usage=(1000, 200)),
        logged(6, error=GatewayError(429, "Slow down.", code="rate_limit")),
    ]


def _sums(totals: logquery.Totals) -> tuple:
    return totals.requests, totals.cost_usd, totals.cost_unknown, totals.capped


def test_totals_read_the_newest_matches_up_to_the_cap(settings, costs):
    settings.LOG_TOTALS_MAX_ROWS = 6  # every match: exact
    assert _sums(logquery.totals(LogFilter())) == (6, Decimal("0.0285"), 2, False)
    # The newest 3: unknown2, tie, c; the one read past the cap (unknown1) is taken back out.
    settings.LOG_TOTALS_MAX_ROWS = 3
    assert _sums(logquery.totals(LogFilter())) == (3, Decimal("0.018"), 1, True)
    # The newest 2: unknown2, tie; the one past the cap (c, $0.0135) is taken back out.
    settings.LOG_TOTALS_MAX_ROWS = 2
    assert _sums(logquery.totals(LogFilter())) == (2, Decimal("0.0045"), 1, True)
    settings.LOG_TOTALS_MAX_ROWS = 1  # unknown2 alone: no cost known
    assert _sums(logquery.totals(LogFilter())) == (1, None, 1, True)
    settings.LOG_TOTALS_MAX_ROWS = 4  # a filter: openai's a, b, unknown1, tie, unknown2
    openai = LogFilter(provider="openai")
    assert _sums(logquery.totals(openai)) == (4, Decimal("0.0105"), 2, True)


def test_the_list_says_more_than_when_the_totals_are_capped(settings, staff_client, costs):
    settings.LOG_TOTALS_MAX_ROWS = 3
    # "gpt" is a part of a model name: the totals are read from the log (no rollups).
    html = re.sub(r"\s+", " ", staff_client.get(LIST + "?model=gpt", headers=TOTALS).text)
    # gpt models, newest first: unknown2, tie ($0.0045), unknown1; b and a are past the cap.
    assert 'More than <b class="total-requests">3</b> requests' in html
    assert "the newest 3:" in html and '<b class="total-cost">$0.0045</b>' in html
    assert '<b class="total-unknown">2</b> unknown' in html
    assert "<b>5</b>" not in html and "<b>3</b> requests" not in html  # never shown as exact
    settings.LOG_TOTALS_MAX_ROWS = 5
    html = re.sub(r"\s+", " ", staff_client.get(LIST + "?model=gpt", headers=TOTALS).text)
    assert "<b>5</b> requests" in html and "More than" not in html
