"""LOG_JOURNAL_BEFORE_ANSWER: an answer waits until its record is in the journal (appended and
fsynced), so a SIGKILL right after it cannot lose the record (tests/scale/test_two_replicas.py
kills a real replica); a failing journal or a stuck one never holds an answer for good."""

import asyncio

import pytest

from gateway.log import journal
from gateway.log.journal import read_segment
from tests.conftest import png_bytes
from tests.test_log_rows import record_with_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_log")]


def _journaled_ids(settings) -> set[str]:
    ids = set()
    for segment in (settings.LOG_SPOOL_DIR / "journal").glob("*/*.seg"):
        ids |= {e.request_id for e in read_segment(segment, set(), journal.Unreadable())}
    return ids


async def test_an_answer_waits_until_its_record_is_journaled(settings, writer):
    settings.LOG_JOURNAL_BEFORE_ANSWER = True
    settings.LOG_FSYNC_SECONDS = 30  # only the answer's wake-up can journal it in time
    record = record_with_image(png_bytes(), "durable")
    writer.put(record)
    assert await asyncio.wait_for(writer.journaled(record.request_id), 10) is True
    assert record.request_id in _journaled_ids(settings)
    # Asked again after the fact (the journal thread got there first): no wait.
    assert await asyncio.wait_for(writer.journaled(record.request_id), 1) is True


async def test_a_failing_journal_lets_the_answer_go_and_counts_it(settings, writer, monkeypatch):
    settings.LOG_JOURNAL_BEFORE_ANSWER = True
    writer.start()

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer.journal, "append", full)
    record = record_with_image(png_bytes(), "disk full")
    writer.put(record)
    assert await asyncio.wait_for(writer.journaled(record.request_id), 10) is False
    assert writer.status()["unjournaled"] == 1


async def test_a_journal_that_does_not_answer_is_waited_for_a_bounded_time(settings, writer):
    settings.LOG_JOURNAL_BEFORE_ANSWER = True
    settings.LOG_JOURNAL_WAIT_SECONDS = 0.2
    writer.start()
    # Never put: nothing will journal it.
    assert await writer.journaled("never-put") is False
    assert writer.status()["answers_unjournaled"] == 1
