"""The log writer keeps its tally (gateway/log/tally.py) in its journal folder: every final
record put is counted once, and counted safe once it is appended to the journal, or, when the
journal could not take it, once the database has it."""

import pytest

from gateway.log import tally
from gateway.log.journal import Journal
from gateway.log.record import Record
from gateway.models import RequestLog

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_log")]


def _record(n: int) -> Record:
    record = Record(path="/v1/chat/completions", request_headers={})
    record.finish(200, {"choices": [{"message": {"content": f"answer {n}"}}]})
    return record


def test_journaled_records_are_counted_put_and_safe(writer):
    for n in range(5):
        writer.put(_record(n))
    writer.put(_record(99), provisional=True)  # its final version follows: not counted
    assert writer.flush(30)
    folder = writer.journal.folder
    assert (writer.tally.put, writer.tally.safe) == (5, 5)
    assert tally.unsafe_in(folder) == 0  # what a replay would read after a kill


def test_records_the_journal_refused_are_safe_once_in_the_database(writer, monkeypatch):
    def refuse(self, entries, provisional=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Journal, "append", refuse)
    for n in range(3):
        writer.put(_record(n))
    assert writer.flush(30)
    assert RequestLog.objects.count() == 3
    assert (writer.tally.put, writer.tally.safe) == (3, 3)


def test_the_folder_and_its_tally_exist_from_the_start(writer):
    writer.put(_record(0))
    assert (writer.journal.folder / tally.FILE).exists()
