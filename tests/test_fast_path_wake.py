"""The log writer journals records holding images as soon as LOG_INBOX_IMAGE_BYTES of them
wait (their decoded bytes are memory), while small records keep waiting for the fsync
batching of LOG_FSYNC_SECONDS."""

import time

import pytest

from gateway.log.record import Record
from gateway.models import RequestLog
from tests.conftest import png_bytes
from tests.test_log_rows import record_with_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_log")]


def _wait_for_rows(count: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while (found := RequestLog.objects.count()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def test_images_past_the_bound_wake_the_journal_thread(settings, writer):
    settings.LOG_FSYNC_SECONDS = 600  # only a wake-up can get a record journaled in time
    settings.LOG_INBOX_IMAGE_BYTES = 1
    writer.put(Record(path="/v1/chat/completions", request_headers={}))  # starts the threads
    assert not writer._wake_journal.is_set()  # no images: nothing to hurry for
    writer.put(record_with_image(png_bytes(), "hurry"))
    assert _wait_for_rows(2) == 2
    assert set(RequestLog.objects.values_list("prompt_preview", flat=True)) >= {"hurry"}


def test_images_under_the_bound_do_not(settings, writer):
    settings.LOG_INBOX_IMAGE_BYTES = 10**9
    writer.put(Record(path="/v1/chat/completions", request_headers={}))
    writer._wake_journal.clear()  # whatever start() did
    writer.put(record_with_image(png_bytes(), "later"))
    assert not writer._wake_journal.is_set()
    assert writer.waiters.inbox_image_bytes > 0 or not writer._inbox  # counted, or taken already
