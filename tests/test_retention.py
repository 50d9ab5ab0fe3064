import datetime as dt
import io

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from batches.models import Batch, BatchItem
from feedback.models import Feedback
from gateway import prompts
from gateway.log.entry import save_records
from gateway.log.retention import purge
from gateway.logquery import LogFilter, filter_logs
from gateway.models import Blob, LogImage, Prompt, RequestLog
from replays.models import Replay
from tests.conftest import png_bytes
from tests.test_log_rows import record_with_image

pytestmark = pytest.mark.django_db


def test_it_deletes_old_logs_and_images_nobody_uses(settings, blob_dir):
    old, shared, new = (
        record_with_image(png_bytes(color=c)) for c in [(1, 1, 1), (2, 2, 2), (3, 3, 3)]
    )
    shared_too = record_with_image(png_bytes(color=(2, 2, 2)))
    save_records([old, shared, new, shared_too])
    long_ago = timezone.now() - dt.timedelta(days=settings.LOG_RETENTION_DAYS + 1)
    ids = list(RequestLog.objects.order_by("id").values_list("id", flat=True))
    RequestLog.objects.filter(id__in=ids[:2]).update(created_at=long_ago)
    Blob.objects.update(created_at=long_ago)
    call_command("purge_logs")
    assert list(RequestLog.objects.values_list("id", flat=True).order_by("id")) == ids[2:]
    kept = {b.sha256 for b in Blob.objects.all()}
    assert kept == {new.chat.images[0].sha256, shared.chat.images[0].sha256}
    assert not default_storage.exists(Blob(sha256=old.chat.images[0].sha256).storage_name)
    assert all(default_storage.exists(Blob(sha256=s).storage_name) for s in kept)


def test_it_keeps_images_of_prompt_versions_and_fresh_uploads(blob_dir):
    in_prompt = prompts.store_image(png_bytes(color=(4, 4, 4)))
    fresh = prompts.store_image(png_bytes(color=(5, 5, 5)))
    stale = prompts.store_image(png_bytes(color=(6, 6, 6)))
    prompt = Prompt.objects.create(slug="p", name="p", provider="@openai", model="gpt-4o")
    image = {"type": "image_url", "image_url": {"url": prompts.BLOB_REF + in_prompt.sha256}}
    prompts.save_version(prompt, messages=[{"role": "user", "content": [image]}], params={})
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    Blob.objects.exclude(pk=fresh.pk).update(created_at=two_days_ago)
    assert purge() == (0, 1)
    assert set(Blob.objects.values_list("sha256", flat=True)) == {in_prompt.sha256, fresh.sha256}
    assert default_storage.exists(in_prompt.storage_name)
    assert not default_storage.exists(stale.storage_name)


def test_a_sent_copy_is_kept_while_its_log_lives_and_derived_files_go_with_a_blob(
    settings, blob_dir
):
    original, sent, gone = (png_bytes(color=c) for c in [(7, 7, 7), (8, 8, 8), (9, 9, 9)])
    kept, old = record_with_image(original), record_with_image(gone)
    save_records([kept, old])
    sent_blob = prompts.store_image(sent)  # as auto-fit stores the copy it sent
    kept_id, old_id = RequestLog.objects.order_by("id").values_list("id", flat=True)
    RequestLog.objects.get(id=kept_id).images.update(sent_blob=sent_blob)
    gone_sha = old.chat.images[0].sha256
    derived = [
        f"thumbs/{gone_sha[:2]}/{gone_sha}-96-r1.webp",
        f"seen/{gone_sha[:2]}/{gone_sha}-1x1-r1.webp",
    ]
    for name in derived:
        default_storage.save(name, io.BytesIO(b"x"))
    long_ago = timezone.now() - dt.timedelta(days=settings.LOG_RETENTION_DAYS + 1)
    RequestLog.objects.filter(id=old_id).update(created_at=long_ago)
    Blob.objects.update(created_at=long_ago)
    assert purge() == (1, 1)
    assert list(RequestLog.objects.values_list("id", flat=True)) == [kept_id]
    assert set(Blob.objects.values_list("sha256", flat=True)) == {
        kept.chat.images[0].sha256,
        sent_blob.sha256,
    }
    assert default_storage.exists(sent_blob.storage_name)
    assert not any(default_storage.exists(name) for name in derived)


def _age(ids: list[int], days: int) -> None:
    long_ago = timezone.now() - dt.timedelta(days=days)
    RequestLog.objects.filter(id__in=ids).update(created_at=long_ago)


def test_old_records_go_in_batches_each_its_own_transaction_their_rows_with_them(
    settings, blob_dir
):
    save_records([record_with_image(png_bytes(color=(i, 0, 0)), f"text {i}") for i in range(7)])
    ids = list(RequestLog.objects.order_by("id").values_list("id", flat=True))
    _age(ids[:5], settings.LOG_RETENTION_DAYS + 1)
    # Two of them share one instant across a batch's edge: the next batch still finds it.
    same = timezone.now() - dt.timedelta(days=settings.LOG_RETENTION_DAYS + 2)
    RequestLog.objects.filter(id__in=ids[1:3]).update(created_at=same)
    batches = []
    with CaptureQueriesContext(connection) as queries:
        records, _ = purge(batch=2, on_batch=lambda rows, seconds: batches.append(rows))
    assert (records, batches) == (5, [2, 2, 1])
    assert list(RequestLog.objects.order_by("id").values_list("id", flat=True)) == ids[5:]
    assert set(LogImage.objects.values_list("log_id", flat=True)) == set(ids[5:])
    reads = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert not any("request_body" in sql for sql in reads), "the delete read whole records"


def test_replays_and_batch_items_follow_their_records_and_feedback_stays(settings, blob_dir):
    save_records([record_with_image(png_bytes(color=(9, i, 0)), f"zebra {i}") for i in range(2)])
    RequestLog.objects.update(metadata={"k": "v"})
    old, new = RequestLog.objects.order_by("id")
    _age([old.id], settings.LOG_RETENTION_DAYS + 1)
    for log in (old, new):
        Replay.objects.create(original=log, request_id=f"replay-{log.id}", target="@x m")
        Feedback.objects.create(trace_id=log.request_id, value=1)
    batch = Batch.objects.create(limit=2, concurrency=1)
    items = [BatchItem.objects.create(batch=batch, original=log, target=0) for log in (old, new)]
    assert purge(batch=1)[0] == 1
    assert list(Replay.objects.values_list("original_id", flat=True)) == [new.id]
    assert [BatchItem.objects.get(pk=i.pk).original_id for i in items] == [None, new.id]
    assert Feedback.objects.count() == 2  # feedback names a trace, not a row: kept as before
    # The list's search and metadata filters (and whatever index they keep) see only the kept.
    found = filter_logs(LogFilter(search="zebra")).values_list("id", flat=True)
    assert list(found) == [new.id]
    found = filter_logs(LogFilter(metadata={"k": "v"})).values_list("id", flat=True)
    assert list(found) == [new.id]
    if connection.vendor == "sqlite":  # the search's side tables, kept by their triggers
        with connection.cursor() as cursor:
            cursor.execute("SELECT DISTINCT log_id FROM gateway_logmetadata")
            assert cursor.fetchall() == [(new.id,)]
            cursor.execute("SELECT rowid FROM gateway_requestlog_fts WHERE search_text MATCH 'zeb'")
            assert cursor.fetchall() == [(new.id,)]


def test_nothing_old_means_no_batch(settings, blob_dir):
    save_records([record_with_image(png_bytes(color=(3, 2, 1)))])
    batches = []
    assert purge(on_batch=lambda rows, seconds: batches.append(rows)) == (0, 0)
    assert batches == [] and RequestLog.objects.count() == 1


def test_the_command_reports_the_batches(settings, blob_dir):
    save_records([record_with_image(png_bytes(color=(i, 5, 5))) for i in range(3)])
    _age(list(RequestLog.objects.values_list("id", flat=True)), settings.LOG_RETENTION_DAYS + 1)
    Blob.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
    out = io.StringIO()
    call_command("purge_logs", "--batch", "2", stdout=out)
    assert out.getvalue().startswith("Deleted 3 log records and 3 images in ")
    assert "longest transaction" in out.getvalue()
    assert not RequestLog.objects.exists()
