"""gateway/log/insert.py writes the same RequestLog rows bulk_create writes, on SQLite and
PostgreSQL: every field read back equal, ids set, the database's errors raised."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from gateway.log import insert, rows
from gateway.log.record import Record
from gateway.models import ApiKey, RequestLog

pytestmark = pytest.mark.django_db(transaction=True)


def _rows(tag: str, key: ApiKey) -> list[dict]:
    plain = Record.begin("/v1/chat/completions", {"x-portkey-provider": "openai"})
    plain.finish(200, {"choices": [{"message": {"content": "A cat."}}], "usage": {"x": 1}})
    failed = Record.begin("/v1/chat/completions", {"authorization": "Bearer sk-secret"})
    failed.error_type, failed.error_message, failed.status_code = "bad", "ünïcode ✓", 502
    built = [rows.full_fields(plain), rows.full_fields(failed)]
    odd = dict(built[0], request_id="odd", metadata={"k": "v", "n": None, "ü": [1, 2.5]})
    odd |= {"cost_usd": Decimal("0.0000123456"), "api_key_id": key.pk, "latency_ms": 1.5}
    odd |= {"response_body": None, "attempts": [{"target": 0, "retry": 1}], "retried": True}
    odd |= {"created_at": datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)}
    built.append(odd)
    for row in built:
        row["request_id"] = f"{tag}-{row['request_id']}"[:31]
    return built


def _read_back(request_ids: list[str]) -> list[dict]:
    found = RequestLog.objects.filter(request_id__in=request_ids).order_by("id")
    return [
        {k: v for k, v in model_to_dict(r).items() if k not in ("id", "request_id")} for r in found
    ]


def test_rows_read_back_as_bulk_create_writes_them():
    key = ApiKey.objects.create(name="k", key_hash="h" * 64)
    built = _rows("", key)
    slow = [RequestLog(**dict(row, request_id="a" + row["request_id"])) for row in built]
    fast = [RequestLog(**dict(row, request_id="b" + row["request_id"])) for row in built]
    with transaction.atomic():
        RequestLog.objects.bulk_create(slow)
        insert.insert_logs(fast)
    assert all(log.pk for log in fast) and len({log.pk for log in fast}) == len(fast)
    assert {log.pk: log.request_id for log in fast} == dict(
        RequestLog.objects.filter(pk__in=[log.pk for log in fast]).values_list("pk", "request_id")
    )
    assert _read_back([r.request_id for r in fast]) == _read_back([r.request_id for r in slow])
    odd = RequestLog.objects.get(request_id="b-odd")
    assert odd.metadata == {"k": "v", "n": None, "ü": [1, 2.5]} and odd.response_body is None
    assert odd.cost_usd == Decimal("0.0000123456") and odd.api_key_id == key.pk


def test_many_rows_past_one_statement():
    key = ApiKey.objects.create(name="k", key_hash="h" * 64)
    logs = [RequestLog(**dict(_rows("m", key)[0], request_id=f"many-{i}")) for i in range(250)]
    with transaction.atomic():
        insert.insert_logs(logs)
    assert RequestLog.objects.filter(request_id__startswith="many-").count() == 250
    assert sorted(log.pk for log in logs) == sorted(
        RequestLog.objects.filter(request_id__startswith="many-").values_list("pk", flat=True)
    )


def test_a_duplicate_is_the_databases_error():
    key = ApiKey.objects.create(name="k", key_hash="h" * 64)
    row = _rows("d", key)[0]
    RequestLog.objects.create(**row)
    with pytest.raises(IntegrityError), transaction.atomic():
        insert.insert_logs([RequestLog(**row)])
