"""gateway/log/blobs.py on a real S3-compatible server (moto's, over HTTP), in this process:
what each image costs in round trips, the quota, a dead S3, the healthz probe, thumbnails."""

from __future__ import annotations

import hashlib
import socket

import pytest
from botocore.config import Config
from django.core.files.storage import default_storage

from gateway.log import blobs
from gateway.log import entry as entries
from gateway.log.blobs import StorageUnavailable
from gateway.models import Blob, LogImage, RequestLog, blob_name
from logs_ui import thumbnails
from tests.conftest import SHARED_IMAGES, free_port, png_bytes
from tests.s3.conftest import BACKEND
from tests.test_log_rows import record_with_image

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch):
    monkeypatch.setattr(blobs, "present", blobs._Present())
    monkeypatch.setattr(blobs.quota, "used", None)
    monkeypatch.setattr(blobs, "_probed", (-blobs.PROBE_SECONDS, None))


class Calls:
    """The HTTP requests this thread's S3 client sends: (method, key)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        events = default_storage.connection.meta.client.meta.events
        events.register("before-send.s3", self._record)

    def _record(self, request, **_) -> None:
        path = request.url.split("?", 1)[0].split("/", 4)
        self.seen.append((request.method, path[4] if len(path) > 4 else ""))

    def take(self) -> list[tuple[str, str]]:
        seen, self.seen = self.seen, []
        return seen


def test_a_new_image_costs_one_put_and_the_same_image_again_nothing(s3_storage, moto_s3):
    photo = png_bytes(size=(20, 20), color=(3, 4, 5))
    name = blob_name(hashlib.sha256(photo).hexdigest())
    calls = Calls()
    entries.save_records([record_with_image(photo, "first")])
    assert calls.take() == [("PUT", name)]
    assert moto_s3.get(s3_storage, name) == photo
    entries.save_records([record_with_image(photo, "again")])
    entries.save_records([record_with_image(photo, "and again")])
    assert calls.take() == []
    assert LogImage.objects.filter(blob_id=name.rsplit("/", 1)[1]).count() == 3


def test_a_process_meeting_a_known_image_checks_it_once_and_repairs_it(s3_storage, moto_s3):
    photo = png_bytes(size=(21, 20), color=(3, 4, 5))
    sha = hashlib.sha256(photo).hexdigest()
    entries.save_records([record_with_image(photo, "stored")])
    moto_s3.client().delete_object(Bucket=s3_storage, Key=blob_name(sha))  # lost meanwhile
    blobs.present.clear()  # as in a process started since
    calls = Calls()
    entries.save_records([record_with_image(photo, "seen again")])
    assert calls.take() == [("HEAD", blob_name(sha)), ("PUT", blob_name(sha))]
    assert moto_s3.get(s3_storage, blob_name(sha)) == photo
    entries.save_records([record_with_image(photo, "once more")])
    assert calls.take() == []


def test_the_present_set_is_bounded_by_its_byte_setting(settings, s3_storage):
    settings.IRIS_BLOB_PRESENT_CACHE_BYTES = 3 * blobs._Present.ENTRY_BYTES
    photos = [png_bytes(size=(5, 5), color=(i, 0, 0)) for i in range(5)]
    entries.save_records([record_with_image(p, str(i)) for i, p in enumerate(photos)])
    assert len(blobs.present) == 3
    assert hashlib.sha256(photos[-1]).hexdigest() in blobs.present
    assert hashlib.sha256(photos[0]).hexdigest() not in blobs.present


def test_the_blob_quota_holds_on_s3(settings, s3_storage, moto_s3):
    settings.IRIS_BLOB_QUOTA_BYTES = 1000
    small = png_bytes(size=(2, 2))
    big = (SHARED_IMAGES / "chelsea.png").read_bytes()
    entries.save_records([record_with_image(small, "small"), record_with_image(big, "big")])
    stored = moto_s3.keys(s3_storage, "images/")
    assert stored == {blob_name(hashlib.sha256(small).hexdigest())}
    big_log = RequestLog.objects.get(prompt_preview="big")
    assert "quota" in big_log.degraded


def dead_s3(settings, endpoint: str = "") -> None:
    """Storage pointed at a port nobody listens on (S3 down), or at `endpoint`."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": BACKEND,
            "OPTIONS": {
                "bucket_name": "nowhere",
                "endpoint_url": endpoint or f"http://127.0.0.1:{free_port()}",
                "region_name": "us-east-1",
                "access_key": "k",
                "secret_key": "secret-that-must-not-show",
                "client_config": Config(
                    connect_timeout=1, read_timeout=1, retries={"max_attempts": 1}
                ),
            },
        },
    }


def test_s3_down_is_a_storage_fault_the_writer_waits_out_and_says_no_secret(settings):
    dead_s3(settings)
    with pytest.raises(StorageUnavailable) as raised:
        entries.save_records([record_with_image(png_bytes(), "waits")])
    assert "EndpointConnectionError" in str(raised.value)
    assert "secret-that-must-not-show" not in str(raised.value)
    assert not RequestLog.objects.exists() and not Blob.objects.exists()
    with pytest.raises(StorageUnavailable) as probed:
        blobs.probe()
    assert str(probed.value) == "blob storage unavailable (EndpointConnectionError)"


def test_healthz_probes_s3_with_one_put_at_most_once_a_period(s3_storage, moto_s3):
    calls = Calls()
    blobs.probe()
    blobs.probe()
    assert calls.take() == [("PUT", "healthz/probe")]
    assert moto_s3.get(s3_storage, "healthz/probe") == b"ok"


def test_a_thumbnail_is_made_once_and_kept_in_the_bucket(s3_storage, moto_s3):
    photo = png_bytes(size=(300, 150), color=(9, 99, 199))
    entries.save_records([record_with_image(photo)])
    blob = Blob.objects.get()
    first = thumbnails.get_or_make(blob, 96)
    name = thumbnails.storage_name(blob.sha256, 96)
    assert moto_s3.get(s3_storage, name) == first
    calls = Calls()
    assert thumbnails.get_or_make(blob, 96) == first
    assert calls.take() == [("GET", name)]


@pytest.mark.parametrize("fault", ["down", "hung"])
def test_a_thumbnail_with_s3_down_or_hung_is_a_thumbnail_error_saying_so(settings, fault):
    blob = Blob(sha256="ab" * 32, mime="image/png", size=10)
    with socket.socket() as hole:  # listens, never accepts: requests time out
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        dead_s3(settings, f"http://127.0.0.1:{hole.getsockname()[1]}" if fault == "hung" else "")
        with pytest.raises(thumbnails.ThumbnailError) as raised:
            thumbnails.get_or_make(blob, 96)
    kind = "ReadTimeoutError" if fault == "hung" else "EndpointConnectionError"
    assert str(raised.value) == f"blob storage unavailable ({kind})"


def test_retention_deletes_a_blob_and_its_thumbnails_from_the_bucket_and_it_comes_back(
    settings, s3_storage, moto_s3
):
    import datetime as dt

    from django.utils import timezone

    from gateway.log.retention import purge

    photo = png_bytes(size=(120, 90), color=(77, 7, 7))
    sha = hashlib.sha256(photo).hexdigest()
    entries.save_records([record_with_image(photo, "old")])
    thumbnails.get_or_make(Blob.objects.get(), 96)
    assert moto_s3.keys(s3_storage, "images/") and moto_s3.keys(s3_storage, "thumbs/")
    long_ago = timezone.now() - dt.timedelta(days=settings.LOG_RETENTION_DAYS + 1)
    RequestLog.objects.update(created_at=long_ago)
    Blob.objects.update(created_at=long_ago)
    assert purge() == (1, 1)
    assert moto_s3.keys(s3_storage, "images/") == set()
    assert moto_s3.keys(s3_storage, "thumbs/") == set()
    assert sha in blobs.present  # still listed here, but its row is gone: not trusted
    entries.save_records([record_with_image(photo, "sent again")])
    assert moto_s3.get(s3_storage, blob_name(sha)) == photo
