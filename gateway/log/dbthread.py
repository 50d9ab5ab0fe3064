"""The log writer's database thread (gateway/log/pipeline.py): it takes the batches the
journal thread hands over, writes them, waits out the faults that heal, degrades or sets
aside what the database refuses, and replays the journals of processes that died.

A mixin of pipeline.Writer, whose __init__ holds the state both threads share (the queue,
its condition, the stop event, the counters): this module is its database half.
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
from gateway.log import health, replay, setaside
from gateway.log.faults import Fault, classify
from gateway.log.journal import Journal, Slot

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
    nbytes: int  # what it holds in memory
    provisional: Slot | None = None  # its provisional version, let go once this is safe

    def load(self) -> entries.Entry:
        return self.entry if self.entry is not None else self.slot.load()

    @property
    def size(self) -> int:
        return self.slot.length if self.slot is not None else self.nbytes


JOURNAL_DONE = Waiting(None, None, 0.0, 0)  # the journal thread has stopped: nothing follows


class DatabaseThread:
    """The database thread's loop and what it calls (see the module's docstring)."""

    _queue: collections.deque[Waiting]
    _queued_bytes: int
    _cond: threading.Condition
    _stop: threading.Event
    _done: int
    _give_up_at: float
    _in_flight: list[Waiting]
    journal: Journal | None
    stats: health.Stats

    def _count_safe(self, n: int) -> None:
        raise NotImplementedError

    def _error(self, what: str, exc: BaseException) -> None:
        raise NotImplementedError

    def _database_loop(self) -> None:
        next_replay, next_purge = 0.0, time.monotonic() + 60
        while True:
            now = time.monotonic()
            if now >= next_replay and not self._stop.is_set():
                next_replay = now + _REPLAY_EVERY
                self._replay_abandoned()
            if now >= next_purge and not self._stop.is_set():
                next_purge = now + _PURGE_EVERY
                self._purge()
            batch = self._take_batch()
            journal_done = bool(batch) and batch[-1] is JOURNAL_DONE
            if journal_done:
                batch.pop()
            if batch:
                self._in_flight = batch
                try:
                    self._write_waiting(batch)
                except BaseException:
                    with self._cond:  # back to the queue: the restarted loop takes it again
                        self._queue.extendleft(reversed(batch))
                    raise
                finally:
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
        if first is not JOURNAL_DONE and not self._stop.is_set():
            # Linger to gather a batch: one row per transaction costs ~1 ms of CPU per
            # request, a batch of 200 ~0.15 ms a row (measured here).
            self._stop.wait(max(0.0, first.since + settings.LOG_FLUSH_SECONDS - time.monotonic()))
        batch, size, cap = [], 0, max(1, settings.LOG_QUEUE_MAX_BYTES // 4)
        with self._cond:
            while self._queue and len(batch) < settings.LOG_BATCH_SIZE and size < cap:
                batch.append(self._queue.popleft())
                size += batch[-1].size
                if batch[-1] is JOURNAL_DONE:
                    break
        return batch

    def _write_waiting(self, batch: list[Waiting]) -> None:
        loaded, pinned = [], set()  # pinned: stays on disk for the next start
        for waiting in batch:
            try:
                loaded.append(waiting.load())
            except Exception as exc:  # the journal file went bad under us
                pinned.add(id(waiting))
                self._error("a journaled record could not be read back", exc)
        complete, unkept = self._write(loaded)
        with self._cond:
            for waiting in batch:
                self._queued_bytes -= waiting.nbytes
            self._done += len(batch)
            self._cond.notify_all()
        # Counted per segment, then told once each: a lock and a check per entry were ~2 µs.
        written: dict[int, list] = {}  # id(segment) -> [segment, entries written]
        unjournaled = 0
        for waiting in batch:
            if id(waiting) in pinned:
                continue
            entry_id = waiting.entry.request_id if waiting.entry is not None else None
            if not complete or entry_id in unkept:
                if waiting.slot is None and waiting.entry is not None:  # only in memory
                    self._keep_somewhere(waiting.entry)
                continue
            if waiting.slot is None:  # never journaled: safe only now, in the database
                unjournaled += 1
            for slot in (waiting.slot, waiting.provisional):
                if slot is not None:
                    written.setdefault(id(slot.segment), [slot.segment, 0])[1] += 1
        self._count_safe(unjournaled)
        for segment, count in written.values():
            segment.written(count)

    def _keep_somewhere(self, entry: entries.Entry) -> None:
        """An entry that is neither in the database nor on disk, at shutdown: set aside, or
        else journaled without its images (small), or else named in the process log."""
        reason = "the database was unavailable at shutdown"
        if setaside.put(entry, reason):
            self._count_safe(1)
            return
        try:
            self.journal.append([entry.without_blobs(reason)])
            self._count_safe(1)
        except Exception:
            log.error("log record %s lost at shutdown: %r", entry.request_id, entry.row)

    def _write(self, batch: list[entries.Entry]) -> tuple[bool, set[str]]:
        """Write the batch. Returns (False, …) only when drain's deadline passed during a
        lasting fault (the entries stay in the journal for the next start), and the ids of
        entries that could be neither written nor set aside (their journal slot is kept)."""
        pending, one_by_one, delay, unkept = list(batch), False, 0.25, set()
        fault = None
        while pending:
            if time.monotonic() > self._give_up_at:
                if fault is not Fault.STORAGE_UNAVAILABLE:
                    return False, unkept
                # Shutting down with storage full: the rows at least, whatever their images.
                pending = [e.without_blobs(f"{fault.value} at shutdown") for e in pending]
                fault = None
            chunk = pending[:1] if one_by_one else pending
            try:
                close_old_connections()
                saved = entries.save(chunk)
            except Exception as exc:
                error, fault = exc, classify(exc)
            else:
                self.stats.written += len(chunk)
                self.stats.degraded += sum(1 for e in saved if e.degraded)
                self.stats.fault = ""
                del pending[: len(chunk)]
                continue
            if fault is Fault.BAD_RECORD:
                if not one_by_one:  # find the record at fault; the others go in
                    one_by_one = True
                    continue
                bad = pending.pop(0)
                if not bad.refused_by_db:
                    pending.insert(0, bad.refused(f"{type(error).__name__}: {str(error)[:300]}"))
                elif setaside.put(bad.original or bad, f"{type(error).__name__}: {error}"):
                    self.stats.set_aside += 1
                else:
                    unkept.add(bad.request_id)
                continue
            self._wait_out(fault, error)
            for entry in pending:  # a commit whose answer was lost may have landed
                entry.replayed = True
            if (
                fault is Fault.STORAGE_UNAVAILABLE
                and self._queued_bytes > settings.LOG_QUEUE_MAX_BYTES
            ):
                reason = f"{fault.value} and the log's memory budget full"
                pending = [e.without_blobs(reason) for e in pending]
            self._stop.wait(min(delay, max(0.0, self._give_up_at - time.monotonic())))
            delay = min(delay * 2, _RETRY_MAX)
        return True, unkept

    def _wait_out(self, fault: Fault, exc: Exception) -> None:
        if self.stats.fault != fault.value:
            log.warning("log writes wait: %s (%s)", fault.value, exc)
        self.stats.fault = fault.value
        self._error(fault.value, exc)

    def _replay_abandoned(self) -> None:
        """Write what stopped processes left: journals, and spool files of older versions."""

        def write(batch: list[entries.Entry]) -> bool:
            complete, unkept = self._write(batch)
            return complete and not unkept

        try:
            self.stats.replayed += replay.legacy_spool(write)
            self.stats.replayed += replay.abandoned_journals(self.journal, write)
        except Exception as exc:
            self._error("replaying journals failed", exc)
            log.exception("replaying journals failed; retrying later")

    def _purge(self) -> None:
        from gateway.log.retention import purge

        try:
            close_old_connections()
            purge()
        except Exception:
            log.exception("log retention purge failed; retrying in an hour")
