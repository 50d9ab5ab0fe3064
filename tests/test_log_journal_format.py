"""What the journal writes reads back as it was: entries pickled compactly (created_at and
cost_usd as plain values) load equal, an entry pickled the older way (a plain dataclass
pickle) still replays, and a short write is finished in order."""

import datetime
import os
import pickle
from decimal import Decimal

import pytest

from gateway.log import entry as entries
from gateway.log import journal
from gateway.log.entry import prepare
from gateway.log.journal import Journal
from tests.conftest import png_bytes
from tests.test_log_rows import record_with_image

pytestmark = pytest.mark.usefixtures("quick_log")


def _priced_entry() -> entries.Entry:
    entry = prepare(record_with_image(png_bytes(), "priced"))
    entry.row["cost_usd"] = Decimal("0.0000123456")
    return entry


def test_an_entry_reads_back_equal(settings):
    entry = _priced_entry()
    refused = entry.refused("a value too long")
    for original in (entry, refused):
        loaded = pickle.loads(pickle.dumps(original, protocol=pickle.HIGHEST_PROTOCOL))
        assert loaded == original
        assert loaded.row["created_at"].tzinfo is datetime.UTC
    assert type(pickle.loads(pickle.dumps(entry)).row["cost_usd"]) is Decimal
    assert "cost_usd" not in refused.row and loaded.original == entry


def test_an_entry_without_a_date_or_a_cost_reads_back_equal():
    entry = entries.Entry({"request_id": "bare", "created_at": None, "cost_usd": None})
    assert pickle.loads(pickle.dumps(entry)) == entry


def test_an_entry_pickled_the_older_way_is_replayed(settings, monkeypatch):
    entry = _priced_entry()
    with monkeypatch.context() as m:  # the older code: a plain dataclass pickle
        m.delattr(entries.Entry, "__reduce__")
        data = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
    assert b"_unpacked" not in data and b"_unpacked" in pickle.dumps(entry)
    dead = Journal(settings.LOG_SPOOL_DIR)
    dead.append([entry])  # opens a segment; the older record follows the newer one
    with open(dead.segment.path, "ab") as f:
        f.write(journal._HEADER.pack(len(data), 0, b"older") + data)
    newer, older = journal.read_segment(dead.segment.path, set(), journal.Unreadable())
    assert older.replayed and newer.replayed
    older.replayed = newer.replayed = False
    assert older == entry and newer == entry


def test_a_short_write_is_finished_in_order(tmp_path, monkeypatch):
    real = os.writev
    monkeypatch.setattr(journal.os, "writev", lambda fd, chunks: real(fd, [chunks[0][:3]]))
    chunks = [b"first", b"", b"second", b"third" * 1000]
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)
    try:
        journal._write_all(fd, chunks)
    finally:
        os.close(fd)
    assert (tmp_path / "out").read_bytes() == b"".join(chunks)
