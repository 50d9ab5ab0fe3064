"""Small entries go into the journal as JSON (a fifth of pickle's CPU) and read back equal,
through a live process's slot and a dead process's replay alike; what JSON would not keep as
it is (image bytes, a degraded entry's original, keys that are not strings) is pickled."""

import datetime
from decimal import Decimal

import pytest

from gateway.log import journal
from gateway.log.entry import Entry, prepare
from gateway.log.journal import Journal
from gateway.log.record import Record
from gateway.models import RequestLog
from tests.conftest import png_bytes
from tests.test_log_rows import record_with_image

pytestmark = pytest.mark.usefixtures("quick_log")


def _small(text: str = "hi", *, images: bool = True) -> Entry:
    record = Record(path="/v1/chat/completions", request_headers={"content-type": "x"})
    record.provider, record.model, record.metadata = "openai", "gpt-4o", {"team": text}
    record.finish(200, {"choices": [{"message": {"content": text}}], "usage": {"total": 3}})
    entry = prepare(record)
    entry.row["cost_usd"] = Decimal("0.0000123456")
    if images:  # not a LogImage the database takes: for the journal alone
        entry.images = [{"blob_id": None, "grid": {"w": 2, "nested": [1, 2.5, None]}}]
    return entry


def _kinds(path) -> list[int]:
    return [flags & journal.JSON for _, flags, _, _ in journal._records(path, load=False)]


def test_a_small_entry_is_journaled_as_json_and_reads_back_equal(settings):
    entry = _small()
    live = Journal(settings.LOG_SPOOL_DIR)
    [slot] = live.append([entry])
    assert _kinds(live.segment.path) == [journal.JSON]
    loaded = slot.load()
    assert loaded == entry
    assert loaded.row["created_at"].tzinfo is datetime.UTC
    assert type(loaded.row["cost_usd"]) is Decimal
    [replayed] = journal.read_segment(live.segment.path, set(), journal.Unreadable())
    assert replayed.replayed
    replayed.replayed = False
    assert replayed == entry
    live.close()


def test_what_json_would_not_keep_is_pickled(settings):
    with_bytes = prepare(record_with_image(png_bytes(), "image"))
    odd_keys = _small("odd")
    odd_keys.row["metadata"] = {1: "a key that is no string"}
    refused = _small("refused").refused("too long")
    no_cost = _small("free")
    no_cost.row["cost_usd"] = None
    live = Journal(settings.LOG_SPOOL_DIR)
    slots = live.append([with_bytes, odd_keys, refused, no_cost])
    assert _kinds(live.segment.path) == [0, 0, 0, journal.JSON]
    for slot, entry in zip(slots, [with_bytes, odd_keys, refused, no_cost], strict=True):
        assert slot.load() == entry
    live.close()


def test_a_value_json_would_turn_into_text_is_pickled_not_changed(settings):
    """orjson writes dates, dataclasses and str subclasses as text or dicts that from_json would
    not turn back: such an entry is pickled, so it reads back as it was."""
    dated = _small("dated")
    dated.row["metadata"] = {"seen": datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC)}
    labelled = _small("labelled")
    labelled.row["metadata"] = {"label": Label("cat")}
    live = Journal(settings.LOG_SPOOL_DIR)
    slots = live.append([dated, labelled])
    assert _kinds(live.segment.path) == [0, 0]
    assert [slot.load() for slot in slots] == [dated, labelled]
    assert type(slots[1].load().row["metadata"]["label"]) is Label
    live.close()


class Label(str):
    """A str subclass (as Django's SafeString is)."""


@pytest.mark.django_db(transaction=True)
def test_a_dead_process_json_journal_is_replayed_into_the_database(settings, writer):
    dead = Journal(settings.LOG_SPOOL_DIR)
    entries = [_small("first", images=False), _small("second", images=False)]
    dead.append(entries)
    dead._lock_file.close()  # as the kernel does when a process dies
    writer.put(record_with_image(png_bytes(), "new"))
    assert writer.flush(timeout=10)
    rows = {r.request_id: r for r in RequestLog.objects.all()}
    for entry in entries:
        row = rows[entry.request_id]
        assert row.metadata == entry.row["metadata"]
        assert row.cost_usd == Decimal("0.0000123456")
        assert row.created_at == entry.row["created_at"]
