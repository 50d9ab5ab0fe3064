"""The admin's ModelPrice rows: exact and prefix matches, part-by-part overrides of the price
library, the cache the log writer reads them through, the admin pages, and the cost a real
log writer stores on RequestLog."""

from decimal import Decimal

import orjson
import pytest
from django.urls import reverse

from gateway import price_overrides, pricing
from gateway.chat import parse_chat
from gateway.log.record import Record
from gateway.models import ModelPrice, RequestLog

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)

USAGE = {  # 1000 input (400 cached), 200 output of which 50 reasoning
    "prompt_tokens": 1000,
    "completion_tokens": 200,
    "prompt_tokens_details": {"cached_tokens": 400},
    "completion_tokens_details": {"reasoning_tokens": 50},
}


@pytest.fixture(autouse=True)
def _fresh():
    price_overrides.invalidate()
    yield
    price_overrides.invalidate()


def chat_cost(provider="openai", model="gpt-4o", usage=USAGE):
    return pricing.record_cost(provider, model, "chat.completions", usage, None)


def rates(c) -> dict:
    return {line["kind"]: line["usd_per_million"] for line in c.as_json()["lines"]}


def test_without_a_row_the_library_prices_it():
    # gpt-4o: 600 × 2.50 + 400 × 1.25 + 200 × 10 = 1500 + 500 + 2000 µ$
    assert chat_cost().total == D("0.004")


def test_a_partial_override_keeps_the_library_parts():
    ModelPrice.objects.create(provider="openai", model="gpt-4o", input_per_mtok=D("2"))
    c = chat_cost()
    # input 600 × 2 (admin) + cached 400 × 1.25 (library) + 200 × 10 (library) µ$
    assert c.total == D("0.0037")
    assert rates(c) == {"input": "2", "cached_input": "1.25", "output": "10", "reasoning": "10"}
    assert c.as_json()["source"] == ("genai-prices 0.2.3: openai gpt-4o; admin price openai/gpt-4o")


def test_the_longest_prefix_wins_and_an_exact_row_beats_them_all():
    ModelPrice.objects.create(provider="openai", model="gpt-4*", output_per_mtok=D("1"))
    ModelPrice.objects.create(provider="openai", model="gpt-4o*", output_per_mtok=D("2"))
    assert rates(chat_cost(model="gpt-4o-mini"))["output"] == "2"
    assert rates(chat_cost(model="gpt-4.1"))["output"] == "1"
    ModelPrice.objects.create(provider="openai", model="gpt-4o-mini", output_per_mtok=D("3"))
    assert rates(chat_cost(model="gpt-4o-mini"))["output"] == "3"
    assert rates(chat_cost(provider="azure-openai", model="gpt-4o-mini"))["output"] == "0.6"


def test_a_prefix_prices_a_model_the_library_does_not_know():
    ModelPrice.objects.create(
        provider="bedrock",
        model="arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/*",
        input_per_mtok=D("0.5"),
        output_per_mtok=D("1.5"),
    )
    model = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    usage = {"prompt_tokens": 1000, "completion_tokens": 100}
    c = chat_cost("bedrock", model, usage)
    assert c.total == D("0.00065")  # 1000 × 0.5 + 100 × 1.5 µ$
    assert c.as_json()["source"].startswith("admin price bedrock/arn:aws:bedrock")


def test_reasoning_follows_the_admins_output_price():
    ModelPrice.objects.create(provider="openai", model="o4-mini", output_per_mtok=D("4"))
    c = chat_cost(model="o4-mini")
    assert rates(c)["reasoning"] == "4" and rates(c)["output"] == "4"


def test_an_admin_per_image_price_for_a_model_without_one():
    ModelPrice.objects.create(
        provider="bedrock", model="amazon.nova-canvas-v1:0", per_image=D("0.04")
    )
    body = {"data": [{"b64_json": "x"}, {"b64_json": "y"}], "size": "1024x1024"}
    c = pricing.record_cost("bedrock", "amazon.nova-canvas-v1:0", "images.generations", None, body)
    assert c.total == D("0.08")
    assert c.as_json()["source"] == "admin price bedrock/amazon.nova-canvas-v1:0"


def test_an_admin_image_input_price_is_the_one_the_request_page_uses_per_image():
    ModelPrice.objects.create(provider="openai", model="gpt-4o", image_input_per_mtok=D("1"))
    out = chat_cost().as_json()
    assert out["image_input_usd_per_million"] == "1" and out["input_usd_per_million"] == "2.5"


def test_a_zero_price_is_a_price_not_unknown():
    ModelPrice.objects.create(
        provider="openai", model="free-model", input_per_mtok=D(0), output_per_mtok=D(0)
    )
    assert chat_cost(model="free-model").total == D(0)


def test_saving_or_deleting_a_row_is_seen_at_once():
    assert chat_cost().total == D("0.004")  # the cache is loaded, without rows
    row = ModelPrice.objects.create(provider="openai", model="gpt-4o", output_per_mtok=D("20"))
    assert chat_cost().total == D("0.006")  # 1500 + 500 + 200 × 20 µ$
    row.delete()
    assert chat_cost().total == D("0.004")


def test_a_row_saved_elsewhere_is_seen_after_the_ttl(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(price_overrides.time, "monotonic", lambda: clock[0])
    assert chat_cost().total == D("0.004")
    # As another process would write it: no signal here.
    ModelPrice.objects.bulk_create(
        [ModelPrice(provider="openai", model="gpt-4o", output_per_mtok=D("20"))]
    )
    assert chat_cost().total == D("0.004")
    clock[0] += price_overrides.TTL + 0.1
    assert chat_cost().total == D("0.006")


@pytest.fixture
def prices_table_gone():
    """The ModelPrice table unreadable, as in a database fault, then back."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE gateway_modelprice RENAME TO gateway_modelprice_away")
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE gateway_modelprice_away RENAME TO gateway_modelprice")


def test_unreadable_prices_are_unknown_and_tried_again_once_per_ttl(monkeypatch, request):
    clock = [1000.0]
    monkeypatch.setattr(price_overrides.time, "monotonic", lambda: clock[0])
    reads = []
    load = price_overrides._load
    monkeypatch.setattr(price_overrides, "_load", lambda: reads.append(1) or load())
    request.getfixturevalue("prices_table_gone")
    for _ in range(50):
        with pytest.raises(price_overrides.PricesUnavailable):
            chat_cost()
    assert len(reads) == 1  # one failed query, not one per record
    clock[0] += price_overrides.TTL + 0.1
    with pytest.raises(price_overrides.PricesUnavailable):
        chat_cost()
    assert len(reads) == 2


def test_unreadable_prices_keep_the_last_table_read(monkeypatch, request):
    clock = [1000.0]
    monkeypatch.setattr(price_overrides.time, "monotonic", lambda: clock[0])
    ModelPrice.objects.create(provider="openai", model="gpt-4o", output_per_mtok=D("20"))
    price_overrides.invalidate()
    assert chat_cost().total == D("0.006")
    request.getfixturevalue("prices_table_gone")
    clock[0] += price_overrides.TTL + 0.1
    assert chat_cost().total == D("0.006")  # the admin's price, as last read


def test_the_cache_is_read_once_per_ttl(django_assert_num_queries):
    chat_cost()
    with django_assert_num_queries(0):
        for _ in range(100):
            chat_cost()


# -- through the log writer ------------------------------------------------------------------


@pytest.mark.usefixtures("quick_log")
def test_the_log_writer_stores_the_cost_and_its_breakdown(writer):
    ModelPrice.objects.create(provider="openai", model="gpt-4o*", cached_input_per_mtok=D("1"))
    raw = orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    record = Record(path="/v1/chat/completions", request_headers={}, raw_body=raw)
    record.chat = parse_chat(raw)
    record.provider, record.model = "openai", "gpt-4o"
    body = {"model": "gpt-4o-2024-08-06", "choices": [{"message": {"content": "ok"}}]}
    record.finish(200, {**body, "usage": USAGE})
    writer.put(record)
    writer.flush(timeout=10)
    log = RequestLog.objects.get(request_id=record.request_id)
    # 600 × 2.50 + 400 × 1 (admin) + 200 × 10 = 1500 + 400 + 2000 µ$
    assert log.cost_usd == D("0.0039")
    assert log.cost_breakdown == {
        "total": "0.0039",
        "currency": "USD",
        "source": "genai-prices 0.2.3: openai gpt-4o; admin price openai/gpt-4o*",
        "lines": [
            {
                "kind": "input",
                "quantity": 600,
                "unit": "token",
                "usd_per_million": "2.5",
                "usd": "0.0015",
            },
            {
                "kind": "cached_input",
                "quantity": 400,
                "unit": "token",
                "usd_per_million": "1",
                "usd": "0.0004",
            },
            {
                "kind": "output",
                "quantity": 150,
                "unit": "token",
                "usd_per_million": "10",
                "usd": "0.0015",
            },
            {
                "kind": "reasoning",
                "quantity": 50,
                "unit": "token",
                "usd_per_million": "10",
                "usd": "0.0005",
            },
        ],
        "input_usd_per_million": "2.5",
        "image_input_usd_per_million": None,
        "unknown": [],
    }


@pytest.mark.usefixtures("quick_log")
def test_the_log_writer_stores_an_unknown_cost_as_null(writer):
    raw = orjson.dumps({"model": "my-fine-tune", "messages": [{"role": "user", "content": "x"}]})
    record = Record(path="/v1/chat/completions", request_headers={}, raw_body=raw)
    record.chat = parse_chat(raw)
    record.provider, record.model = "openai", "my-fine-tune"
    record.finish(200, {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}})
    writer.put(record)
    writer.flush(timeout=10)
    log = RequestLog.objects.get(request_id=record.request_id)
    assert log.cost_usd is None
    assert log.cost_breakdown["total"] is None
    assert log.cost_breakdown["unknown"] == ["input", "output"]


# -- the admin -------------------------------------------------------------------------------


def test_the_admin_list_shows_the_library_price_a_row_overrides(admin_client):
    ModelPrice.objects.create(provider="openai", model="gpt-4o*", input_per_mtok=D("2"))
    ModelPrice.objects.create(provider="openai", model="in-house", input_per_mtok=D("1"))
    html = admin_client.get(reverse("admin:gateway_modelprice_changelist")).content.decode()
    assert "genai-prices 0.2.3: openai gpt-4o (input $2.5, cached_input $1.25, output $10" in html
    assert "nothing: the price library has no such model" in html


def test_the_admin_adds_a_row_with_help_text_and_checks_it(admin_client):
    url = reverse("admin:gateway_modelprice_add")
    page = admin_client.get(url).content.decode()
    assert "End with * for every model that starts so" in page
    base = {"provider": "openai", "note": "contract 2026"}
    for fields, error in [
        ({"model": "gpt*4o", "input_per_mtok": "1"}, "A * may only end a model name"),
        ({"model": "gpt-4o"}, "Set at least one price."),
        ({"model": "gpt-4o", "output_per_mtok": "-1"}, "A price cannot be negative."),
    ]:
        response = admin_client.post(url, {**base, **fields})
        assert response.status_code == 200 and error in response.content.decode()
    response = admin_client.post(url, {**base, "model": "gpt-4o*", "output_per_mtok": "8"})
    assert response.status_code == 302
    row = ModelPrice.objects.get(model="gpt-4o*")
    assert row.output_per_mtok == D("8") and row.input_per_mtok is None
    assert rates(chat_cost(model="gpt-4o-mini"))["output"] == "8"  # seen at once
    change = admin_client.get(reverse("admin:gateway_modelprice_change", args=[row.pk]))
    assert "genai-prices 0.2.3: openai gpt-4o (input $2.5" in change.content.decode()
