"""Image files: written whole or not at all, repaired, under a quota, written ahead."""

import errno
import hashlib

import pytest

from gateway.log import blobs
from gateway.log import entry as entries
from gateway.log.blobs import StorageUnavailable
from gateway.log.journal import Journal
from gateway.models import Blob, RequestLog, blob_name
from tests.conftest import SHARED_IMAGES, png_bytes
from tests.test_log_rows import record_with_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_log")]


def test_an_incomplete_blob_is_repaired_when_its_bytes_pass_again(blob_dir):
    photo = png_bytes(size=(300, 300), color=(5, 6, 7))
    sha = hashlib.sha256(photo).hexdigest()
    path = blob_dir / blob_name(sha)
    path.parent.mkdir(parents=True)
    path.write_bytes(photo[:100])  # cut short by a full disk
    Blob.objects.create(sha256=sha, mime="image/png", size=len(photo))
    entries.save_records([record_with_image(photo)])
    assert path.read_bytes() == photo


def test_a_blob_write_cut_short_leaves_no_file(monkeypatch, blob_dir):
    photo = png_bytes(size=(30, 30))

    class FullDisk:
        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("builtins.open", FullDisk)
    with pytest.raises(StorageUnavailable):
        entries.save_records([record_with_image(photo)])
    monkeypatch.undo()
    assert not [p for p in blob_dir.rglob("*") if p.is_file()]


def test_past_the_blob_quota_images_are_proxied_but_not_stored(monkeypatch, settings):
    settings.IRIS_BLOB_QUOTA_BYTES = 1000
    monkeypatch.setattr(blobs.quota, "used", None)
    small = png_bytes(size=(2, 2))
    big = (SHARED_IMAGES / "chelsea.png").read_bytes()
    assert len(small) < 1000 < len(big)
    entries.save_records([record_with_image(small, "small"), record_with_image(big, "big")])
    by_text = {log.prompt_preview: log for log in RequestLog.objects.all()}
    assert by_text["small"].images.get().blob_id and not by_text["small"].degraded
    image = by_text["big"].images.get()
    assert image.blob_id is None
    assert "quota of 1000 bytes reached" in image.error and "quota" in by_text["big"].degraded


def test_image_files_are_written_ahead_and_the_journal_keeps_no_image_bytes(
    monkeypatch, blob_dir, writer
):
    journaled = []
    real_append = Journal.append

    def append(self, batch, provisional=None):
        journaled.extend(batch)
        return real_append(self, batch, provisional)

    monkeypatch.setattr(Journal, "append", append)
    photo = png_bytes(size=(40, 40), color=(9, 9, 9))
    writer.put(record_with_image(photo, "ahead"))
    assert writer.flush(timeout=10)
    [entry] = journaled
    [blob] = entry.blobs.values()
    assert blob.data is None and blob.size == len(photo)
    sha = hashlib.sha256(photo).hexdigest()
    assert (blob_dir / blob_name(sha)).read_bytes() == photo
    assert Blob.objects.get(pk=sha).size == len(photo)
