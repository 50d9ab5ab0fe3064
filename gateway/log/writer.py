"""The log writer: two threads that nothing stops, between the event loop and the database.

    submit(record) ──> inbox ──[journal thread]──> journal on disk ──[db thread]──> database
                       (memory)   every LOG_FSYNC_SECONDS: prepare,    batches; faults wait
                                  append, fsync, hand over              and heal

- put() only appends to a deque: the event loop never waits on a lock, a disk or a database.
- The journal thread turns records into entries (gateway/log/entry.py) and appends them to
  the write-ahead journal: after a SIGKILL only the last LOG_FSYNC_SECONDS can be missing,
  and the next start replays the rest. Past LOG_QUEUE_MAX_BYTES of entries waiting in memory
  it hands over only their place on disk. If the disk is full, entries wait in memory; past
  the budget they lose their image bytes (the row says so) rather than the process its memory.
- The database thread writes batches. A fault that heals (database down, read-only, locked;
  blob storage full) makes it wait and retry the same batch; a record the database refuses
  is degraded, and only one refused even degraded is set aside (gateway/log/setaside.py).
- Both loops run under a supervisor: any exception is counted, logged, and the loop restarts.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections

from gateway.log import entry as entries
from gateway.log import setaside
from gateway.log.faults import Fault, classify
from gateway.log.journal import Journal, Slot, read_segment
from gateway.log.record import Record

log = logging.getLogger(__name__)

_PURGE_EVERY = 3600.0  # seconds between retention purges (LOG_RETENTION_DAYS)
_REPLAY_EVERY = 30.0  # seconds between looks for journals that dead processes left
_RETRY_MAX = 5.0  # longest wait between two tries of a batch while a fault lasts


@dataclass
class Waiting:
    """An entry handed to the database thread: in memory, or only its place on disk."""

    entry: entries.Entry | None
    slot: Slot | None
    since: float
    nbytes: int

    def load(self) -> entries.Entry:
        return self.entry if self.entry is not None else self.slot.load()


class Stats:
    def __init__(self) -> None:
        self.written = 0
        self.degraded = 0
        self.set_aside = 0
        self.replayed = 0
        self.unjournaled = 0  # entries held only in memory because the journal failed
        self.loop_restarts = 0
        self.errors = 0
        self.last_error = ""
        self.fault = ""  # the fault the database thread is waiting out, if any
        self.fault_since: float | None = None


class Writer:
    def __init__(self) -> None:
        self._inbox: collections.deque[tuple[float, Record]] = collections.deque()
        self._queue: collections.deque[Waiting] = collections.deque()
        self._queued_bytes = 0
        self._cond = threading.Condition()
        self._wake_journal = threading.Event()
        self._puts = 0  # records put ...
        self._done = 0  # ... and written, set aside or left in the journal at a drain
        self._stopping = False
        self._give_up_at = float("inf")  # drain's deadline for a fault that lasts
        self._in_flight: list[Waiting] = []  # the batch the database thread is writing
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self.journal: Journal | None = None
        self.stats = Stats()

    # --- the event loop's side ------------------------------------------------------------

    def put(self, record: Record) -> None:
        """Never blocks, never raises (a deque append is atomic under the GIL)."""
        if not self._threads:
            self._start()
        self._puts += 1  # only the event loop's thread counts here; the writer counts done
        self._inbox.append((time.monotonic(), record))

    # --- lifecycle ------------------------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._threads:
                return
            self._stopping, self._give_up_at = False, float("inf")
            self.journal = Journal(settings.LOG_SPOOL_DIR)
            self._threads = [
                threading.Thread(target=self._supervise, args=(loop,), name=name, daemon=True)
                for loop, name in (
                    (self._journal_loop, "iris-log-journal"),
                    (self._database_loop, "iris-log-db"),
                )
            ]
            for thread in self._threads:
                thread.start()

    def flush(self, timeout: float = 60.0) -> None:
        """Block until every record put so far is written or set aside (tests, commands)."""
        deadline = time.monotonic() + timeout
        self._wake_journal.set()
        with self._cond:
            while self._puts > self._done and time.monotonic() < deadline:
                self._cond.wait(0.05)
                self._wake_journal.set()

    def drain(self, timeout: float = 60.0) -> None:
        """Journal what is queued, write what the database takes within the timeout, stop.
        Whatever a lasting fault kept from the database stays in the journal for the next
        start. A later put() starts the threads again."""
        with self._start_lock:
            threads, self._threads = self._threads, []
            if not threads:
                return
            if backlog := self._puts - self._done:
                log.info("draining %d queued log records", backlog)
            self._give_up_at = time.monotonic() + timeout
            self._stopping = True
            self._wake_journal.set()
            with self._cond:
                self._cond.notify_all()
            for thread in threads:
                thread.join(max(0.1, self._give_up_at - time.monotonic() + 1))
            if self.journal is not None:
                self.journal.close()
            close_old_connections()

    def _supervise(self, loop) -> None:
        """Run the loop until it returns; whatever it raises is counted and it starts over."""
        while True:
            try:
                loop()
                return
            except BaseException as exc:  # noqa: BLE001 - the writer must not die
                self.stats.loop_restarts += 1
                self._error(f"{threading.current_thread().name} restarted after {exc!r}")
                log.exception("log writer loop failed; restarting it")
                time.sleep(0.5)

    # --- the journal thread ---------------------------------------------------------------

    def _journal_loop(self) -> None:
        while True:
            self._wake_journal.wait(settings.LOG_FSYNC_SECONDS)
            self._wake_journal.clear()
            stopping = self._stopping
            batch = []
            while self._inbox and len(batch) < 1000:
                batch.append(self._inbox.popleft())
            if batch:
                self._journal([(since, entries.prepare(r)) for since, r in batch])
                if self._inbox:
                    self._wake_journal.set()
                continue
            if self.journal is not None and self.journal.segment is not None:
                self.journal.rotate()  # idle: let the written segment go
            if stopping and not self._inbox:
                with self._cond:
                    self._queue.append(_JOURNAL_DONE)
                    self._cond.notify_all()
                return

    def _journal(self, batch: list[tuple[float, entries.Entry]]) -> None:
        slots: list[Slot | None] = [None] * len(batch)
        try:
            slots = self.journal.append([e for _, e in batch])
        except Exception as exc:  # disk full, spool folder unwritable
            self.stats.unjournaled += len(batch)
            self._error(f"the journal could not be written: {exc}")
        budget = settings.LOG_QUEUE_MAX_BYTES
        with self._cond:
            for (since, entry), slot in zip(batch, slots, strict=True):
                nbytes = entry.nbytes()
                if self._queued_bytes + nbytes > budget:
                    if slot is not None:  # safe on disk: keep only its place in memory
                        self._queue.append(Waiting(None, slot, since, 0))
                        continue
                    entry = entry.without_blobs("the log's memory budget was full")
                    nbytes = entry.nbytes()
                self._queued_bytes += nbytes
                self._queue.append(Waiting(entry, slot, since, nbytes))
            self._cond.notify_all()

    # --- the database thread --------------------------------------------------------------

    def _database_loop(self) -> None:
        next_replay = 0.0
        next_purge = time.monotonic() + 60
        journal_done = False
        while True:
            now = time.monotonic()
            if now >= next_replay and not self._stopping:
                next_replay = now + _REPLAY_EVERY
                self._replay_abandoned()
            if now >= next_purge and not self._stopping:
                next_purge = now + _PURGE_EVERY
                self._purge()
            batch = self._take_batch()
            if batch and batch[-1] is _JOURNAL_DONE:
                batch.pop()
                journal_done = True
            if batch:
                self._in_flight = batch
                written = self._write([w.load() for w in batch])
                self._release(batch, written)
                self._in_flight = []
            if journal_done and not self._queue:
                return

    def _take_batch(self) -> list[Waiting]:
        with self._cond:
            if not self._queue:
                self._cond.wait(1.0)
            if not self._queue:
                return []
            first = self._queue[0]
        if first is not _JOURNAL_DONE and not self._stopping:
            # Linger to gather a batch: one row per transaction costs ~1 ms of CPU per
            # request, a batch of 200 ~0.15 ms a row (measured here).
            time.sleep(max(0.0, first.since + settings.LOG_FLUSH_SECONDS - time.monotonic()))
        batch = []
        with self._cond:
            while self._queue and len(batch) < settings.LOG_BATCH_SIZE:
                batch.append(self._queue.popleft())
                if batch[-1] is _JOURNAL_DONE:
                    break
        return batch

    def _release(self, batch: list[Waiting], written: bool) -> None:
        with self._cond:
            for waiting in batch:
                self._queued_bytes -= waiting.nbytes
            self._done += len(batch)
            self._cond.notify_all()
        for waiting in batch:
            if written and waiting.slot is not None:
                waiting.slot.segment.written()
            elif not written and waiting.slot is None:  # neither in the database nor on disk
                setaside.put(waiting.load(), "the database was unavailable at shutdown")

    def _write(self, batch: list[entries.Entry]) -> bool:
        """Write the batch; False only when drain's deadline passed during a lasting fault
        (the entries stay in the journal for the next start)."""
        pending, one_by_one, delay = list(batch), False, 0.25
        while pending:
            if time.monotonic() > self._give_up_at:
                return False
            chunk = pending[:1] if one_by_one else pending
            try:
                close_old_connections()
                saved = entries.save(chunk)
            except Exception as exc:
                error, fault = exc, classify(exc)
            else:
                self.stats.written += len(chunk)
                self.stats.degraded += sum(1 for e in saved if e.degraded)
                self.stats.fault, self.stats.fault_since = "", None
                del pending[: len(chunk)]
                continue
            if fault is Fault.BAD_RECORD:
                if not one_by_one:  # find the record at fault; the others go in
                    one_by_one = True
                    continue
                bad = pending[0]
                if bad.refused_by_db:
                    self.stats.set_aside += 1
                    setaside.put(bad.original or bad, f"{type(error).__name__}: {error}")
                    pending.pop(0)
                else:
                    pending[0] = bad.refused(f"{type(error).__name__}: {str(error)[:300]}")
                continue
            self._wait_out(fault, error)
            if fault is Fault.STORAGE_UNAVAILABLE and self._over_budget():
                reason = f"{fault.value} and the log's memory budget full"
                pending = [e.without_blobs(reason) for e in pending]
            self._pause(delay)
            delay = min(delay * 2, _RETRY_MAX)
        return True

    def _wait_out(self, fault: Fault, exc: Exception) -> None:
        if self.stats.fault != fault.value:
            log.warning("log writes wait: %s (%s)", fault.value, exc)
            self.stats.fault_since = time.monotonic()
        self.stats.fault = fault.value
        self._error(f"{fault.value}: {type(exc).__name__}: {exc}")

    def _over_budget(self) -> bool:
        return self._queued_bytes > settings.LOG_QUEUE_MAX_BYTES

    def _pause(self, seconds: float) -> None:
        with self._cond:
            self._cond.wait(min(seconds, max(0.0, self._give_up_at - time.monotonic())))

    def _replay_abandoned(self) -> None:
        """Write what processes that died (or stopped during a fault) left in the journal."""
        try:
            for folder in self.journal.abandoned():
                for segment in sorted(folder.glob("*.seg")):
                    for chunk in _chunks(read_segment(segment), settings.LOG_BATCH_SIZE):
                        if not self._write(chunk):
                            return
                        self.stats.replayed += len(chunk)
                    segment.unlink()
                log.info("replayed the log journal of a stopped process (%s)", folder.name)
                for leftover in folder.iterdir():
                    leftover.unlink(missing_ok=True)
                folder.rmdir()
        except Exception as exc:
            self._error(f"replaying journals failed: {exc}")
            log.exception("replaying journals failed; retrying later")

    def _purge(self) -> None:
        from gateway.log.retention import purge

        try:
            close_old_connections()
            purge()
        except Exception:
            log.exception("log retention purge failed; retrying in an hour")

    # --- what healthz shows ---------------------------------------------------------------

    def _error(self, message: str) -> None:
        self.stats.errors += 1
        self.stats.last_error = message[:500]

    def status(self) -> dict:
        with self._cond:
            firsts = [*self._in_flight[:1], *list(self._queue)[:1]]
            oldest = [w.since for w in firsts if w is not _JOURNAL_DONE]
            queued_bytes = self._queued_bytes
        if self._inbox:
            oldest.append(self._inbox[0][0])
        stats = self.stats
        return {
            "writer_alive": all(t.is_alive() for t in self._threads) if self._threads else None,
            "queue_records": self._puts - self._done,
            "queue_bytes": queued_bytes,
            "oldest_unwritten_seconds": round(time.monotonic() - min(oldest), 3) if oldest else 0,
            "waiting_for": stats.fault or None,
            "journal_backlog_bytes": Journal.backlog_bytes(settings.LOG_SPOOL_DIR),
            "set_aside": setaside.count(),
            "written": stats.written,
            "degraded": stats.degraded,
            "replayed": stats.replayed,
            "unjournaled": stats.unjournaled,
            "loop_restarts": stats.loop_restarts,
            "errors": stats.errors,
            "last_error": stats.last_error or None,
        }


_JOURNAL_DONE = Waiting(None, None, 0.0, 0)  # the journal thread has stopped: nothing follows


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
