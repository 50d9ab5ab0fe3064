"""manage.py reprice_logs: costs left unknown (prices unreadable when logged, or a price set
in the admin since) priced again from the usage the log kept, the rollups following."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from gateway import price_overrides, rollups
from gateway.models import ModelPrice, RequestLog, Rollup

pytestmark = pytest.mark.django_db

USAGE = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}


def logged(request_id: str, when: dt.datetime, model: str = "gpt-4o") -> RequestLog:
    row = RequestLog.objects.create(
        request_id=request_id,
        created_at=when,
        provider="openai",
        model=model,
        status_code=200,
        response_body={"object": "chat.completion", "model": model, "usage": USAGE},
    )
    rollups.add([row])  # as the log writer counted it: cost unknown
    return row


@pytest.fixture(autouse=True)
def _fresh_prices():
    price_overrides.invalidate()
    yield
    price_overrides.invalidate()


def test_unknown_costs_of_past_days_are_priced_and_counted_again():
    yesterday = timezone.now() - dt.timedelta(days=1)
    old = logged("a", yesterday)
    known = logged("b", yesterday)
    RequestLog.objects.filter(pk=known.pk).update(cost_usd=Decimal("9"))
    today = logged("c", timezone.now())
    call_command("reprice_logs")
    # gpt-4o (genai-prices): 1000 × $2.50/M + 200 × $10/M
    assert RequestLog.objects.get(pk=old.pk).cost_usd == Decimal("0.0045")
    assert RequestLog.objects.get(pk=old.pk).cost_breakdown["source"].startswith("genai-prices")
    assert RequestLog.objects.get(pk=known.pk).cost_usd == Decimal("9")  # left as it was
    assert RequestLog.objects.get(pk=today.pk).cost_usd is None  # today's rollups are live
    day = Rollup.objects.get(span=rollups.DAY, start__lte=yesterday.timestamp())
    assert (day.requests, day.cost_known) == (2, 2)
    assert day.cost_e10 == (Decimal("0.0045") + 9) * 10**10


def test_all_reprices_known_costs_at_the_admins_price():
    row = logged("a", timezone.now() - dt.timedelta(days=2), model="house-model")
    call_command("reprice_logs")
    assert RequestLog.objects.get(pk=row.pk).cost_usd is None  # no price anywhere: unknown
    ModelPrice.objects.create(
        provider="openai", model="house-*", input_per_mtok=1, output_per_mtok=2
    )
    call_command("reprice_logs", "--all")
    assert RequestLog.objects.get(pk=row.pk).cost_usd == Decimal("0.0014")  # 1000×1 + 200×2
