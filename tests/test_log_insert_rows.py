"""insert.insert_log_rows and insert_image_rows (the log writer's save) write the rows
Model(**fields) + bulk_create would: every field read back equal, defaults for the fields
left out, the ids given back, an unknown field refused."""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.forms.models import model_to_dict

from gateway.log import insert
from gateway.models import ApiKey, Blob, LogImage, RequestLog
from tests.test_fast_path_insert import _rows

pytestmark = pytest.mark.django_db(transaction=True)


def _logs(request_ids: list[str]) -> list[dict]:
    found = RequestLog.objects.filter(request_id__in=request_ids).order_by("request_id")
    return [
        {k: v for k, v in model_to_dict(r).items() if k not in ("id", "request_id")} for r in found
    ]


def _images(log_ids: list[int]) -> list[dict]:
    found = LogImage.objects.filter(log_id__in=log_ids).order_by("log__request_id", "part_index")
    return [{k: v for k, v in model_to_dict(i).items() if k not in ("id", "log")} for i in found]


def test_rows_and_images_read_back_as_bulk_create_writes_them():
    key = ApiKey.objects.create(name="k", key_hash="h" * 64)
    Blob.objects.create(sha256="a" * 64, mime="image/png", size=3)
    built = _rows("r", key)
    bare = {"request_id": "bare", "created_at": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)}
    built.append(bare)  # a record reduced to its id: every other field its default
    image = {"blob_id": "a" * 64, "message_index": 0, "part_index": 1, "origin": "base64"}
    bare_image = {"blob_id": None, "message_index": 0, "part_index": 2, "error": "not fetched"}
    slow = [RequestLog(**dict(row, request_id="a" + row["request_id"])) for row in built]
    with transaction.atomic():
        RequestLog.objects.bulk_create(slow)
        LogImage.objects.bulk_create(
            [LogImage(log=log, **img) for log in slow for img in (image, bare_image)]
        )
        fast = [dict(row, request_id="b" + row["request_id"]) for row in built]
        saved = insert.insert_log_rows(fast)
        images = insert.insert_image_rows(
            [{**img, "log_id": log.pk} for log in saved for img in (image, bare_image)]
        )
    assert {log.pk: log.request_id for log in saved} == dict(
        RequestLog.objects.filter(pk__in=[log.pk for log in saved]).values_list("pk", "request_id")
    )
    assert all(log.id == log.pk for log in saved)
    assert _logs([log.request_id for log in saved]) == _logs([log.request_id for log in slow])
    assert _images([log.pk for log in saved]) == _images([log.pk for log in slow])
    by_id = {log.request_id: log for log in saved}
    assert by_id["bbare"].status_code == 0 and by_id["bbare"].endpoint == "chat.completions"
    assert by_id["bbare"].degraded == "" and by_id["bbare"].cost_usd is None
    assert [i.role for i in images] == ["input"] * len(images)
    assert RequestLog.objects.get(request_id="b" + built[2]["request_id"]).cost_usd == Decimal(
        "0.0000123456"
    )


def test_a_field_the_model_does_not_have_is_refused():
    with pytest.raises(TypeError, match="no field 'colour'"), transaction.atomic():
        insert.insert_log_rows([{"request_id": "x", "colour": "red"}])
    assert not RequestLog.objects.filter(request_id="x").exists()
