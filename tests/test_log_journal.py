"""The write-ahead journal: what a dead process left is replayed once, whole, in order."""

import time

import pytest

from gateway.log import entry as entries
from gateway.log import journal, setaside
from gateway.log.entry import prepare
from gateway.log.journal import Journal
from gateway.models import RequestLog
from tests.conftest import png_bytes
from tests.test_log_rows import record_with_image
from tests.test_log_writer import previews

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_log")]


def test_a_dead_process_journal_is_replayed_once(settings, writer):
    dead = Journal(settings.LOG_SPOOL_DIR)
    written, lost = (
        record_with_image(png_bytes(), "written"),
        record_with_image(png_bytes(), "lost"),
    )
    dead.append([prepare(written), prepare(lost)])
    entries.save([prepare(written)])  # it died after writing one of them
    dead._lock_file.close()  # as the kernel does when a process dies
    writer.put(record_with_image(png_bytes(), "new"))
    writer.flush(timeout=10)
    assert previews() == ["lost", "new", "written"]
    assert writer.status()["replayed"] == 2  # both read back, the one already written skipped
    assert not list((settings.LOG_SPOOL_DIR / "journal").glob(f"{dead.folder.name}*"))


def test_a_live_process_journal_is_left_alone(settings, writer):
    alive = Journal(settings.LOG_SPOOL_DIR)
    alive.append([prepare(record_with_image(png_bytes(), "theirs"))])
    writer.put(record_with_image(png_bytes(), "ours"))
    writer.flush(timeout=10)
    assert previews() == ["ours"]
    assert list(alive.folder.glob("*.seg"))
    alive.close()


def test_a_torn_journal_tail_is_skipped(settings):
    dead = Journal(settings.LOG_SPOOL_DIR)
    dead.append([prepare(record_with_image(png_bytes(), "whole"))])
    with open(dead.segment.path, "ab") as f:
        f.write(b"\x00\x00\x10\x00partial")  # a kill mid-append
    [entry] = journal.read_segment(dead.segment.path, set(), journal.Unreadable())
    assert entry.row["prompt_preview"] == "whole" and entry.replayed


def _died(journal_: Journal) -> None:
    journal_._lock_file.close()  # as the kernel does when a process dies


def test_a_provisional_record_is_replayed_only_without_its_final_version(settings, writer):
    dead = Journal(settings.LOG_SPOOL_DIR)
    finished = record_with_image(png_bytes(), "snapshot taken")
    cut_short = record_with_image(png_bytes(), "killed during the snapshot")
    dead.append([prepare(finished), prepare(cut_short)], [True, True])
    dead.append([prepare(finished)])
    _died(dead)
    writer.start()
    assert writer.flush(timeout=10)
    for _ in range(100):
        if RequestLog.objects.count() == 2:
            break
        time.sleep(0.05)
    logs = {log.prompt_preview: log for log in RequestLog.objects.all()}
    assert set(logs) == {"snapshot taken", "killed during the snapshot"}
    assert not logs["snapshot taken"].degraded
    assert "before its URL images were fetched" in logs["killed during the snapshot"].degraded


def test_a_journal_record_that_cannot_be_read_back_is_kept_not_deleted(settings, writer):
    dead = Journal(settings.LOG_SPOOL_DIR)
    dead.append([prepare(record_with_image(png_bytes(), "readable"))])
    with open(dead.segment.path, "ab") as f:
        f.write(journal._HEADER.pack(5, 0, b"x" * 32) + b"oops!")
    _died(dead)
    writer.start()
    for _ in range(100):
        if RequestLog.objects.exists() and setaside.count():
            break
        time.sleep(0.05)
    assert previews() == ["readable"]
    [kept] = setaside.folder().glob("*.seg")
    assert kept.read_bytes() == b"oops!"


def test_spool_files_of_the_version_before_the_journal_are_written(settings, writer):
    import pickle
    import sys
    import types

    from gateway.log import record as record_module

    old = types.ModuleType("gateway.capture")  # where Record lived before the journal
    old.Record = record_module.Record
    sys.modules["gateway.capture"] = old
    try:
        record_module.Record.__module__ = "gateway.capture"
        settings.LOG_SPOOL_DIR.mkdir(parents=True)
        spooled = [record_with_image(png_bytes(), "from the old spool")]
        (settings.LOG_SPOOL_DIR / "1-a.pickle").write_bytes(pickle.dumps(spooled))
    finally:
        record_module.Record.__module__ = "gateway.log.record"
        del sys.modules["gateway.capture"]
    assert b"gateway.capture" in (settings.LOG_SPOOL_DIR / "1-a.pickle").read_bytes()
    writer.start()
    for _ in range(100):
        if RequestLog.objects.exists():
            break
        time.sleep(0.05)
    assert previews() == ["from the old spool"]
    assert not list(settings.LOG_SPOOL_DIR.glob("*.pickle*"))
