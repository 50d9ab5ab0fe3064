"""What a cache HIT costs on the log: nothing paid upstream, and what it would have cost."""

from decimal import Decimal

import pytest

from gateway.log import economics
from gateway.log.record import Record
from tests.test_pricing import chat_of

USAGE = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}


def record(cache_status: str) -> Record:
    r = Record(path="/v1/chat/completions", request_headers={}, provider="openai")
    r.model, r.chat, r.cache_status = "gpt-4o", chat_of("gpt-4o"), cache_status
    r.finish(200, {"choices": [], "usage": USAGE})
    return r


@pytest.mark.django_db
def test_a_hit_costs_nothing_and_says_what_it_saved():
    paid = economics.record_fields(record("MISS"))
    hit = economics.record_fields(record("HIT"))

    assert paid["cost_usd"] > 0
    assert hit["cost_usd"] == Decimal(0)
    assert Decimal(hit["cost_breakdown"]["saved_by_cache"]) == paid["cost_usd"]
    assert hit["cost_breakdown"]["lines"] == paid["cost_breakdown"]["lines"]
