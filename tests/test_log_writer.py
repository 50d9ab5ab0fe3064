"""The log writer: faults that heal are waited out, bad records degraded, nothing dropped.

These drive the real writer threads against the test database; the faults are injected at
the seams where a real one surfaces (the database's OperationalError, an OSError from the
disk). tests/api/test_log_faults.py does the same to a real server, with real faults.
"""

import errno
import threading

import pytest
from django.core.management import call_command
from django.db import OperationalError

from gateway.log import entry as entries
from gateway.log import faults, setaside
from gateway.log.entry import prepare
from gateway.log.journal import Journal
from gateway.log.pipeline import Writer
from gateway.models import Blob, LogImage, RequestLog
from tests.conftest import png_bytes
from tests.test_log_rows import record_with_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_log")]


class Outage:
    """Makes entry.save fail as a database that is down fails, until healed."""

    def __init__(self, monkeypatch, exc: Exception | None = None) -> None:
        exc = exc or OperationalError("database is locked")
        self.down = threading.Event()
        self.down.set()
        real = entries.save

        def save(batch):
            if self.down.is_set():
                raise exc
            return real(batch)

        monkeypatch.setattr(entries, "save", save)
        monkeypatch.setattr(faults, "database_accepts_writes", lambda: not self.down.is_set())

    def heal(self) -> None:
        self.down.clear()


def previews() -> list[str]:
    return sorted(RequestLog.objects.values_list("prompt_preview", flat=True))


def test_records_wait_out_a_database_fault_and_are_written_when_it_heals(monkeypatch, writer):
    outage = Outage(monkeypatch)
    for text in ("one", "two", "three"):
        writer.put(record_with_image(png_bytes(), text))
    writer.flush(timeout=1)
    status = writer.status()
    assert status["waiting_for"] == "database unavailable"
    assert status["queue_records"] == 3 and status["set_aside"] == 0
    assert RequestLog.objects.count() == 0
    outage.heal()
    writer.flush(timeout=15)
    assert previews() == ["one", "three", "two"]
    assert writer.status()["waiting_for"] is None and setaside.count() == 0


def test_a_record_the_database_refuses_is_degraded_and_its_batch_written(monkeypatch, writer):
    real = entries.save

    def save(batch):
        if any(e.row.get("prompt_preview") == "poison" for e in batch):
            raise ValueError("a value the database refuses")
        return real(batch)

    monkeypatch.setattr(entries, "save", save)
    for text in ("one", "poison", "two"):
        writer.put(record_with_image(png_bytes(), text))
    writer.flush(timeout=10)
    logs = {log.prompt_preview: log for log in RequestLog.objects.all()}
    assert set(logs) == {"one", "two", ""}  # the degraded row keeps no preview
    degraded = logs[""]
    assert "the database refused the record: ValueError" in degraded.degraded
    assert degraded.request_body == {"_degraded": "ValueError: a value the database refuses"}
    assert degraded.status_code == 200 and degraded.images.count() == 1
    assert not logs["one"].degraded and setaside.count() == 0
    assert writer.status()["degraded"] == 1


def test_a_record_refused_even_degraded_is_set_aside_then_replayed(monkeypatch, writer):
    real = entries.save
    refusing = threading.Event()
    refusing.set()

    def save(batch):
        if refusing.is_set() and any(e.row.get("trace_id") == "bad" for e in batch):
            raise ValueError("refused")
        return real(batch)

    monkeypatch.setattr(entries, "save", save)
    record = record_with_image(png_bytes(), "kept")
    record.trace_id = "bad"
    writer.put(record)
    writer.put(record_with_image(png_bytes(), "fine"))
    writer.flush(timeout=10)
    assert previews() == ["fine"]
    assert setaside.count() == 1 and writer.status()["set_aside"] == 1
    refusing.clear()
    call_command("replay_failed")
    assert previews() == ["fine", "kept"] and setaside.count() == 0


def test_a_deeply_nested_reply_is_logged_cut_and_the_writer_goes_on(
    settings, writer, client, admin_user
):
    deep: dict = {}
    inner = deep
    for _ in range(1000):
        inner["x"] = {}
        inner = inner["x"]
    record = record_with_image(png_bytes(), "deep")
    record.response_body = deep
    writer.put(record)
    writer.put(record_with_image(png_bytes(), "after"))
    writer.flush(timeout=10)
    log = RequestLog.objects.get(request_id=record.request_id)
    assert "while preparing the record" in log.degraded
    assert log.prompt_preview == "" and log.images.count() == 1
    body, depth = log.response_body, 0
    while isinstance(body, dict):
        body, depth = body["x"], depth + 1
    assert body == "[nested too deep: cut]" and depth == settings.GATEWAY_MAX_JSON_DEPTH
    assert RequestLog.objects.filter(prompt_preview="after").exists()
    client.force_login(admin_user)
    page = client.get(f"/logs/{log.id}/").content.decode()
    assert "Kept degraded:" in page and "while preparing the record" in page


def test_a_loop_that_fails_is_restarted_and_loses_nothing(monkeypatch, writer):
    real = writer._take_batch
    failures = iter([RuntimeError("a bug in the loop")])

    def take_batch():
        if (error := next(failures, None)) is not None:
            raise error
        return real()

    monkeypatch.setattr(writer, "_take_batch", take_batch)
    writer.put(record_with_image(png_bytes(), "survives"))
    writer.flush(timeout=10)
    assert previews() == ["survives"]
    assert writer.status()["loop_restarts"] == 1
    assert writer.status()["last_error"] == "iris-log-db restarted: RuntimeError"


def test_a_full_journal_disk_keeps_records_in_memory_and_writes_them(monkeypatch, writer):
    def full(self, batch):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Journal, "append", full)
    writer.put(record_with_image(png_bytes(), "unjournaled"))
    writer.flush(timeout=10)
    assert previews() == ["unjournaled"]
    assert RequestLog.objects.get().images.get().blob_id is not None
    assert writer.status()["unjournaled"] == 1


def test_past_the_memory_budget_records_wait_on_disk_not_in_memory(monkeypatch, settings, writer):
    settings.LOG_QUEUE_MAX_BYTES = 1
    outage = Outage(monkeypatch)
    photos = [png_bytes(size=(200, 200), color=(i, 0, 0)) for i in range(5)]
    for i, photo in enumerate(photos):
        writer.put(record_with_image(photo, f"r{i}"))
    writer.flush(timeout=1)
    status = writer.status()
    assert status["queue_records"] == 5 and status["queue_bytes"] == 0
    assert status["journal_backlog_bytes"] > sum(len(p) for p in photos)
    outage.heal()
    writer.flush(timeout=15)
    assert len(previews()) == 5
    assert Blob.objects.count() == 5  # the images came back from disk, none dropped


def test_with_no_disk_and_no_memory_left_images_are_dropped_not_records(monkeypatch, settings):
    settings.LOG_QUEUE_MAX_BYTES = 1
    monkeypatch.setattr(Journal, "append", lambda self, b: (_ for _ in ()).throw(OSError(28, "")))
    outage = Outage(monkeypatch)
    writer = Writer()
    writer.put(record_with_image(png_bytes(size=(50, 50)), "bare"))
    writer.flush(timeout=1)
    outage.heal()
    writer.flush(timeout=15)
    writer.drain(timeout=5)
    log = RequestLog.objects.get()
    assert "the log's memory budget was full" in log.degraded
    image = log.images.get()
    assert image.blob_id is None and "image not stored" in image.error


def test_a_blob_storage_fault_is_waited_out(monkeypatch, writer):
    failing = threading.Event()
    failing.set()
    real = entries.blobs.ensure_whole

    def ensure_whole(sha, data):
        if failing.is_set():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(sha, data)

    monkeypatch.setattr(entries.blobs, "ensure_whole", ensure_whole)
    writer.put(record_with_image(png_bytes(), "waits"))
    writer.flush(timeout=1)
    assert writer.status()["waiting_for"] == "blob storage unavailable"
    failing.clear()
    writer.flush(timeout=15)
    assert LogImage.objects.get().blob_id is not None


def test_healthz_answers_503_while_records_wait_and_the_pages_say_why(
    monkeypatch, client, admin_user
):
    from gateway import log as request_log

    outage = Outage(monkeypatch)
    request_log.writer.put(record_with_image(png_bytes(), "waits"))
    request_log.writer.flush(timeout=1)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["log"] == "error: log writes are waiting: database unavailable"
    assert body["log_writer"]["queue_records"] == 1
    client.force_login(admin_user)
    page = client.get("/logs/prompts/").content.decode()
    assert "Requests are not being logged right now" in page
    outage.heal()
    request_log.writer.flush(timeout=15)
    assert client.get("/healthz").status_code == 200
    setaside.put(prepare(record_with_image(png_bytes(), "aside")), "refused")
    assert "1 log record set aside" in client.get("/logs/prompts/").content.decode()


def test_flush_says_when_it_gave_up(monkeypatch, writer):
    Outage(monkeypatch)
    writer.put(record_with_image(png_bytes(), "waits"))
    assert writer.flush(timeout=0.5) is False


def test_sqlite_error_codes_tell_a_fault_from_a_bad_record():
    import sqlite3

    from django.db import IntegrityError

    def wrapped(django_error, code):
        cause = sqlite3.OperationalError("x")
        cause.sqlite_errorcode = code
        error = django_error("x")
        error.__cause__ = cause
        return error

    assert faults.classify(wrapped(OperationalError, 13)) is faults.Fault.DATABASE_UNAVAILABLE
    assert faults.classify(wrapped(OperationalError, 8)) is faults.Fault.DATABASE_UNAVAILABLE
    assert faults.classify(wrapped(OperationalError, 5 | 256)) is faults.Fault.DATABASE_UNAVAILABLE
    assert faults.classify(wrapped(IntegrityError, 19)) is faults.Fault.BAD_RECORD
    assert faults.classify(ValueError("x")) is faults.Fault.BAD_RECORD


def test_a_full_sqlite_database_is_a_fault_that_heals(monkeypatch, writer):
    """A real "database or disk is full" from SQLite (its page limit stands in for the disk):
    records wait, none is set aside, all are written once there is room."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's page limit stands in for a full disk")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA page_count")
        (pages,) = cursor.fetchone()
    real_save, full = entries.save, threading.Event()
    full.set()

    def save(batch):  # runs in the writer's thread, on its own connection
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA max_page_count = {pages + 1 if full.is_set() else 10**6}")
        return real_save(batch)

    monkeypatch.setattr(entries, "save", save)
    big = record_with_image(png_bytes(), "big")
    big.response_body = {"choices": [{"message": {"content": "y" * 200_000}}]}
    writer.put(big)
    assert not writer.flush(timeout=2)
    assert writer.status()["waiting_for"] == "database unavailable"
    assert writer.status()["last_error"] == "database unavailable: OperationalError SQLITE_FULL"
    assert setaside.count() == 0
    full.clear()
    assert writer.flush(timeout=15)
    assert not RequestLog.objects.get(request_id=big.request_id).degraded
