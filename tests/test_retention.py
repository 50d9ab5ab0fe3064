import datetime as dt
import io

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from gateway import prompts
from gateway.log.entry import save_records
from gateway.log.retention import purge
from gateway.models import Blob, Prompt, RequestLog
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
