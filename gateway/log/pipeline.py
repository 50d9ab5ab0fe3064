"""The log writer: two threads that nothing stops, between the event loop and the database.

    submit(record) ──> inbox ──[journal thread]──> journal on disk ──[db thread]──> database
                       (memory)   every LOG_FSYNC_SECONDS: prepare,    batches; faults wait
                                  append, fsync, hand over              and heal

- put() only appends to a deque: the event loop takes no lock and waits on no disk.
- The journal thread turns records into entries (gateway/log/entry.py) and appends them to
  the write-ahead journal: after a SIGKILL only the last LOG_FSYNC_SECONDS (and the batch
  being journaled) can be missing, and the next start replays the rest. Past
  LOG_QUEUE_MAX_BYTES of entries waiting in memory it hands over only their place on disk.
  If the disk is full, entries wait in memory; past the budget they lose their image bytes
  (the row says so) rather than the process its memory.
- The database thread writes batches. A fault that heals (database down, read-only, locked;
  blob storage full) makes it wait and retry the same batch; a record the database refuses
  is degraded, and only one refused even degraded is set aside (gateway/log/setaside.py).
- The database thread's half of the writer is gateway/log/dbthread.py.
- Both loops run under a supervisor: any exception is counted, logged, the batch in hand
  goes back to the queue, and the loop restarts.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from gateway.log import blobs, health, outputs, setaside
from gateway.log import entry as entries
from gateway.log import tally as tallies
from gateway.log.dbthread import JOURNAL_DONE, DatabaseThread, Waiting
from gateway.log.journal import Journal, Slot
from gateway.log.record import Record
from gateway.log.waiters import Waiters

log = logging.getLogger(__name__)

_JOURNAL_BATCH = 1000  # records journaled at once, at most ...
_JOURNAL_BYTES = 8 * 1024 * 1024  # ... and about this many bytes of images (held meanwhile)


class Writer(DatabaseThread):
    def __init__(self) -> None:
        # (since, record, provisional, the bytes of its images)
        self._inbox: collections.deque[tuple[float, Record, bool, int]] = collections.deque()
        self._queue: collections.deque[Waiting] = collections.deque()
        self._queued_bytes = 0
        self._cond = threading.Condition()
        self._wake_journal = threading.Event()
        self._stop = threading.Event()  # set by drain: pauses end, loops finish up
        self._puts = 0  # records put (only the putting thread counts here) ...
        self._done = 0  # ... and written, set aside, or left in the journal at a drain
        self._give_up_at = float("inf")  # drain's deadline for a fault that lasts
        self._in_flight: list[Waiting] = []  # the batch the database thread is writing
        self._provisional: dict[str, Slot] = {}  # journaled provisional versions, by id
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()  # start and drain, never put
        self.journal: Journal | None = None
        # Records put and made safe, counted where a SIGKILL leaves them (gateway/log/tally.py).
        self.tally: tallies.Tally | None = None
        self.stats = health.Stats()
        self.waiters = Waiters(self._wake_journal, self.stats)  # answers waiting on the journal

    # --- the event loop's side ------------------------------------------------------------

    def put(self, record: Record, *, provisional: bool = False) -> None:
        """Never blocks, never raises. A provisional record is journaled only (its final
        version follows): a SIGKILL in between still leaves a record."""
        if not self._threads and not self._stop.is_set():
            self.start()  # once per process (asgi.py starts it first)
        if not provisional:
            self._puts += 1
            if self.tally is not None:
                self.tally.count_put()
        images = getattr(record.chat, "images", None)
        nbytes = sum(img.size for img in images) if images else 0
        self._inbox.append((time.monotonic(), record, provisional, nbytes))
        self.waiters.put_image_bytes += nbytes
        if settings.LOG_JOURNAL_BEFORE_ANSWER:
            self._wake_journal.set()  # an answer waits on it: no batching by the clock
        elif nbytes and self.waiters.inbox_image_bytes > settings.LOG_INBOX_IMAGE_BYTES:
            # Each waits up to LOG_FSYNC_SECONDS holding its decoded image: past a few MB of
            # them, journal now (memory), while small records keep the fsync batching.
            self._wake_journal.set()

    async def room(self) -> None:
        """Wait while too many decoded images wait for the journal thread (waiters.py)."""
        if self._threads:
            await self.waiters.room()

    async def journaled(self, request_id: str) -> bool:
        """Wait until this record is journaled (LOG_JOURNAL_BEFORE_ANSWER, waiters.py)."""
        return await self.waiters.journaled(request_id)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._threads:
                return
            self._stop.clear()
            self._give_up_at = float("inf")
            self.journal = Journal(settings.LOG_SPOOL_DIR)
            try:
                self.tally = tallies.Tally(self.journal.open())
            except OSError as exc:  # an unwritable spool: the journal's appends will say so too
                self.tally = None
                self._error("the journal folder could not be opened", exc)
            self._threads = [
                threading.Thread(target=self._supervise, args=(loop,), name=name, daemon=True)
                for loop, name in (
                    (self._journal_loop, "iris-log-journal"),
                    (self._database_loop, "iris-log-db"),
                )
            ]
            for thread in self._threads:
                thread.start()

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every record put so far is written or set aside; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._puts > self._done:
                if time.monotonic() > deadline:
                    return False
                self._wake_journal.set()
                self._cond.wait(0.05)
        return True

    def drain(self, timeout: float = 60.0) -> None:
        """Journal what is queued, write what the database takes within the timeout, stop.
        What a lasting fault kept from the database stays in the journal for the next start.
        A later put() starts the threads again."""
        with self._lock:
            if not self._threads:
                return
            if backlog := self._puts - self._done:
                log.info("draining %d queued log records", backlog)
            self._give_up_at = time.monotonic() + timeout
            self._stop.set()
            self._wake_journal.set()
            with self._cond:
                self._cond.notify_all()
            for thread in self._threads:
                thread.join(max(0.1, self._give_up_at - time.monotonic() + 1))
            self._journal_leftovers()  # put meanwhile (a late snapshot): kept for next start
            if self.tally is not None:
                self.tally.close()
                self.tally = None
            if self.journal is not None:
                self.journal.close()
            self._threads = []
            self._stop.clear()
            close_old_connections()

    def _journal_leftovers(self) -> None:
        batch = [self._inbox.popleft() for _ in range(len(self._inbox))]
        self.waiters.taken(sum(n for *_, n in batch))
        final = [(e, p) for e, p in ((entries.prepare(r), p) for _, r, p, _ in batch) if not p]
        if not final:
            return
        try:
            self.journal.append([e for e, _ in final])
            self._count_safe(len(final))
        except Exception:
            for entry, _ in final:
                if setaside.put(entry, "the journal could not be written at shutdown"):
                    self._count_safe(1)
        finally:
            self.waiters.answer([e.request_id for e, _ in final], True)  # journaled or set aside

    def _count_safe(self, n: int) -> None:
        if self.tally is not None:
            self.tally.count_safe(n)

    def _supervise(self, loop) -> None:
        """Run the loop until it returns; whatever it raises is counted and it starts over."""
        _name_os_thread(threading.current_thread().name)
        while True:
            try:
                loop()
                return
            except BaseException as exc:  # noqa: BLE001 - the writer must not die
                self.stats.loop_restarts += 1
                self._error(f"{threading.current_thread().name} restarted", exc)
                log.exception("log writer loop failed; restarting it")
                time.sleep(0.5)

    # --- the journal thread ---------------------------------------------------------------

    def _journal_loop(self) -> None:
        while True:
            self._wake_journal.wait(settings.LOG_FSYNC_SECONDS)
            self._wake_journal.clear()
            stopping = self._stop.is_set()
            batch, image_bytes = [], 0
            while self._inbox and len(batch) < _JOURNAL_BATCH and image_bytes < _JOURNAL_BYTES:
                batch.append(self._inbox.popleft())
                image_bytes += _image_bytes(batch[-1][1])
            if batch:
                ids = [r.request_id for _, r, _, _ in batch]
                taken = self.waiters.taken_image_bytes + sum(n for *_, n in batch)
                try:
                    prepared = self._prepare(batch)
                except BaseException:  # the loop restarts; answers waiting on these go now
                    self.waiters.answer(ids, False)
                    self.waiters.taken(taken - self.waiters.taken_image_bytes)
                    raise
                try:
                    self._journal(prepared)
                except BaseException:
                    self._hand_over([(s, e, p, None) for s, e, p in prepared if not p])
                    raise
                if self._inbox:
                    self._wake_journal.set()
                continue
            if self.journal.segment is not None:
                self.journal.rotate()  # idle: let the written segment go
            if stopping and not self._inbox:
                self.waiters.wake_room()
                with self._cond:
                    self._queue.append(JOURNAL_DONE)
                    self._cond.notify_all()
                return

    def _prepare(
        self, batch: list[tuple[float, Record, bool, int]]
    ) -> list[tuple[float, entries.Entry, bool]]:
        """The batch's entries, each image file written ahead as soon as its entry is made:
        the bytes are still in the cache from hashing, and are let go at once (the batch is
        emptied as it goes: the records held every image until the whole batch was journaled).
        Storage that fails (full) leaves the image bytes in the entries from there on."""
        prepared, writing = [], True
        batch.reverse()
        while batch:
            since, record, provisional, nbytes = batch.pop()
            entry = entries.prepare(record)
            del record
            if writing:
                try:
                    entry.blobs = blobs.write_ahead(entry.blobs)
                except Exception as exc:  # storage full: this and the rest keep their bytes
                    self._error("image files could not be written ahead", exc)
                    writing = False
            prepared.append((since, entry, provisional))
            self.waiters.taken(nbytes)
        return prepared

    def _journal(self, batch: list[tuple[float, entries.Entry, bool]]) -> None:
        slots: list[Slot | None] = [None] * len(batch)
        appended = False
        try:
            slots = self.journal.append([e for _, e, _ in batch], [p for _, _, p in batch])
            appended = True
            self._count_safe(sum(1 for _, _, p in batch if not p))
        except Exception as exc:  # disk full, spool folder unwritable
            self.stats.unjournaled += sum(1 for _, _, p in batch if not p)
            self._error("the journal could not be written", exc)
        finally:
            if settings.LOG_JOURNAL_BEFORE_ANSWER:
                self.waiters.answer([e.request_id for _, e, _ in batch], appended)
        self._hand_over([(s, e, p, slot) for (s, e, p), slot in zip(batch, slots, strict=True)])

    def _hand_over(self, batch: list[tuple[float, entries.Entry, bool, Slot | None]]) -> None:
        budget = settings.LOG_QUEUE_MAX_BYTES
        with self._cond:
            for since, entry, provisional, slot in batch:
                if provisional:  # journal-only, until its final version is safe
                    if slot is not None:
                        self._provisional[entry.request_id] = slot
                    continue
                earlier = self._provisional.pop(entry.request_id, None)
                if earlier is not None and slot is not None:
                    earlier.segment.written()  # the final version is on disk now
                    earlier = None
                nbytes = slot.length if slot is not None else entry.nbytes()
                if self._queued_bytes + nbytes > budget:
                    if slot is not None:  # safe on disk: keep only its place in memory
                        self._queue.append(Waiting(None, slot, since, 0))
                        continue
                    entry = entry.without_blobs("the log's memory budget was full")
                    nbytes = entry.nbytes()
                self._queued_bytes += nbytes
                self._queue.append(Waiting(entry, slot, since, nbytes, earlier))
            self._cond.notify_all()

    # --- what healthz shows (gateway/log/health.py) ---------------------------------------

    def _error(self, what: str, exc: BaseException) -> None:
        log.warning("log writer: %s: %s", what, exc)
        self.stats.error(what, exc)

    def status(self) -> dict:
        with self._cond:
            firsts = [*self._in_flight[:1], *list(self._queue)[:1]]
            oldest = [w.since for w in firsts if w is not JOURNAL_DONE]
            queued_bytes = self._queued_bytes
        with contextlib.suppress(IndexError):  # emptied meanwhile
            oldest.append(self._inbox[0][0])
        return health.report(
            self.stats,
            alive=all(t.is_alive() for t in self._threads) if self._threads else None,
            unwritten=self._puts - self._done,
            queued_bytes=queued_bytes,
            oldest=min(oldest) if oldest else None,
        )


def _image_bytes(record: Record) -> int:
    """The image bytes a record holds (what a journal batch is bounded by)."""
    images = record.chat.images if record.chat else ()
    return sum(img.size for img in images) + outputs.encoded_size(record)


def _name_os_thread(name: str) -> None:
    """The thread's name where the OS shows it (top -H, /proc/<pid>/task/*/comm, the CPU
    benchmark's per-thread figures): Python 3.11 names only its own Thread object."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME (Linux; elsewhere absent)
    except (OSError, AttributeError):
        pass
