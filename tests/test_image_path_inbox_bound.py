"""The log's inbox is bounded in image bytes: past LOG_INBOX_MAX_IMAGE_BYTES an answer waits
(Writer.room) until the journal thread has let go of enough decoded images; each image is
let go as soon as its file is written, and the count of bytes waiting stays exact."""

import asyncio
import weakref

import pytest

from gateway.log import blobs
from gateway.models import LogImage, RequestLog
from tests.conftest import png_bytes
from tests.test_log_rows import record_with_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_log")]


def test_an_answer_waits_for_room_past_the_bound(settings, writer, held_journal):
    inside, release = held_journal
    settings.LOG_INBOX_MAX_IMAGE_BYTES = 1
    image = png_bytes((32, 32))
    writer.put(record_with_image(image, "first"))
    assert inside.wait(30)  # the journal thread holds the first record's image
    writer.put(record_with_image(png_bytes((33, 33)), "second"))
    assert writer.waiters.inbox_image_bytes > settings.LOG_INBOX_MAX_IMAGE_BYTES

    async def answer() -> bool:
        waiting = asyncio.ensure_future(writer.room())
        for _ in range(20):  # let it run as far as it can
            await asyncio.sleep(0)
        blocked = not waiting.done()
        release.set()  # the journal thread writes both images and makes room
        await asyncio.wait_for(waiting, 30)
        return blocked

    assert asyncio.run(answer()) is True
    assert writer.flush(30)
    assert RequestLog.objects.count() == 2 and LogImage.objects.count() == 2
    assert writer.waiters.inbox_image_bytes == 0  # every byte put was counted out again


def test_no_wait_under_the_bound(settings, writer, held_journal):
    inside, _ = held_journal
    settings.LOG_INBOX_MAX_IMAGE_BYTES = 10**9
    writer.put(record_with_image(png_bytes(), "one"))
    assert inside.wait(30)  # held by the journal thread, yet under the bound

    async def answer() -> None:
        await asyncio.wait_for(writer.room(), 30)

    asyncio.run(answer())


def test_zero_turns_the_bound_off(settings, writer, held_journal):
    inside, _ = held_journal
    settings.LOG_INBOX_MAX_IMAGE_BYTES = 0
    writer.put(record_with_image(png_bytes(), "one"))
    assert inside.wait(30)
    asyncio.run(asyncio.wait_for(writer.room(), 30))


def test_a_record_is_let_go_once_its_image_file_is_written(settings, writer, monkeypatch):
    """A journal batch lets each record go once its entry is made (the entry's image bytes go
    once the file is written), not once the whole batch is journaled: at each file written,
    the records before it and its own are gone."""
    settings.LOG_FSYNC_SECONDS = 600  # one batch, taken when flush() wakes the thread
    settings.LOG_INBOX_IMAGE_BYTES = 10**9
    settings.LOG_INBOX_MAX_IMAGE_BYTES = 0
    refs: list[weakref.ref] = []
    alive: list[list[bool]] = []
    real = blobs.write_ahead

    def write_ahead(found):
        alive.append([ref() is not None for ref in refs])
        return real(found)

    monkeypatch.setattr(blobs, "write_ahead", write_ahead)
    for n in range(3):
        record = record_with_image(png_bytes((20 + n, 20)), f"r{n}")
        refs.append(weakref.ref(record))
        writer.put(record)
    del record
    assert writer.flush(30)
    assert alive == [[False, True, True], [False, False, True], [False, False, False]]
    assert LogImage.objects.exclude(blob_id=None).count() == 3
    assert writer.waiters.inbox_image_bytes == 0
