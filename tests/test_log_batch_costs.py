"""The database thread's per-batch shortcuts keep what they skip: image bytes in the rollups
come from the batch's own blobs (no Blob query) and still count, a key's last_used_at is
written once a minute per process (not once a batch), and the blob look-up in plain SQL
finds what the ORM found."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gateway import rollups
from gateway.log import blobs, entry
from gateway.log.entry import save_records
from gateway.models import ApiKey, Blob, LogImage, RequestLog, Rollup
from tests.conftest import png_bytes
from tests.test_log_rows import record_with_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_log")]


def _image_bytes() -> int:
    return sum(Rollup.objects.filter(span=rollups.HOUR).values_list("image_bytes", flat=True))


def test_rollups_count_image_bytes_from_the_batch_without_asking_for_blobs():
    image = png_bytes()
    with CaptureQueriesContext(connection) as queries:
        save_records([record_with_image(image, "a"), record_with_image(image, "b")])
    assert _image_bytes() == 2 * len(image)
    blob_table = Blob._meta.db_table
    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and blob_table in q["sql"]]
    assert len(reads) == 1  # blobs.store's look-up; none from the rollups


def test_rollups_ask_for_the_sizes_they_were_not_given():
    image = png_bytes()
    save_records([record_with_image(image, "first")])
    logs = list(RequestLog.objects.all())
    [fact] = rollups.facts_of(logs, list(LogImage.objects.filter(log__in=logs)), {})
    assert fact.image_bytes == len(image)


def test_a_key_last_used_at_is_written_once_a_minute(monkeypatch):
    key = ApiKey.objects.create(name="k", key_hash="k" * 64)
    monkeypatch.setattr(entry, "_key_written", {})
    clock = [1000.0]
    monkeypatch.setattr(entry.time, "monotonic", lambda: clock[0])

    def saved_with_key() -> list[str]:
        record = record_with_image(png_bytes(), "keyed")
        record.api_key_id = key.pk
        with CaptureQueriesContext(connection) as queries:
            save_records([record])
        return [q["sql"] for q in queries if "last_used_at" in q["sql"]]

    assert len(saved_with_key()) == 1
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    clock[0] += 30
    assert saved_with_key() == []  # within the minute: not written again
    clock[0] += 31
    assert len(saved_with_key()) == 1
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first


def test_the_blob_look_up_finds_what_is_there():
    save_records([record_with_image(png_bytes(), "stored")])
    [sha] = Blob.objects.values_list("sha256", flat=True)
    shas = [sha, "0" * 64] + [f"{i:064x}" for i in range(1200)]  # past one chunk of 500
    assert blobs._known(shas) == {sha}
