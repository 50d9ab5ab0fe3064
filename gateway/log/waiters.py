"""Answers that wait on the log writer's journal thread, and the image bytes in its inbox.

Two kinds of wait, both at most LOG_JOURNAL_WAIT_SECONDS, both woken by the journal thread:
- journaled(): LOG_JOURNAL_BEFORE_ANSWER holds a whole answer until its record is appended to
  the journal and fsynced, so not even a SIGKILL or a power cut loses an answered request;
- room(): while more than LOG_INBOX_MAX_IMAGE_BYTES of decoded images wait for the journal
  thread, answers wait for it to catch up, so clients cannot pile up images in memory faster
  than they are written (measured: 200 records and +150 MB of RSS in 8 s at 8 clients on one
  core without it).
The waiting answers live on event loops; the journal thread wakes them thread-safely."""

import asyncio
import collections
import contextlib
import threading

from django.conf import settings

from gateway.log import health

_JOURNALED_IDS_KEPT = 10_000

Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Future]


def _resolve(future: asyncio.Future, ok: bool) -> None:
    if not future.done():  # its answer may have stopped waiting (timeout, client gone)
        future.set_result(ok)


def _wake(waiter: Waiter, ok: bool) -> None:
    loop, future = waiter
    with contextlib.suppress(RuntimeError):  # its loop closed (shutdown)
        loop.call_soon_threadsafe(_resolve, future, ok)


class Waiters:
    def __init__(self, wake_journal: threading.Event, stats: health.Stats) -> None:
        self._wake_journal, self._stats = wake_journal, stats
        self._lock = threading.Lock()
        # Image bytes put in the inbox (counted by the putting thread only) and let go by the
        # journal thread (only): each counter has one writer, so their difference is exact.
        self.put_image_bytes = 0
        self.taken_image_bytes = 0
        self._room: list[Waiter] = []
        # Answers waiting for their record's journal append, and the outcome for ids journaled
        # lately (an answer may ask after the journal thread got there).
        self._answers: dict[str, Waiter] = {}
        self._journaled_ids: collections.OrderedDict[str, bool] = collections.OrderedDict()

    @property
    def inbox_image_bytes(self) -> int:
        return self.put_image_bytes - self.taken_image_bytes

    # --- the event loop's side ------------------------------------------------------------

    async def room(self) -> None:
        limit = settings.LOG_INBOX_MAX_IMAGE_BYTES
        if not limit or self.inbox_image_bytes <= limit:
            return
        loop = asyncio.get_running_loop()
        waiter = (loop, loop.create_future())
        with self._lock:
            self._room.append(waiter)
            if self.inbox_image_bytes <= limit:  # the journal thread got there meanwhile
                self._room.remove(waiter)
                return
        self._wake_journal.set()
        try:
            await asyncio.wait_for(asyncio.shield(waiter[1]), settings.LOG_JOURNAL_WAIT_SECONDS)
        except TimeoutError:
            with self._lock, contextlib.suppress(ValueError):
                self._room.remove(waiter)

    async def journaled(self, request_id: str) -> bool:
        """True once a record with this id (its final or provisional version) is appended
        and fsynced; False when the journal failed (the record is then held in memory,
        counted as unjournaled) or did not answer in time: the answer goes out anyway."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if (done := self._journaled_ids.get(request_id)) is not None:
                return done
            waiter = self._answers[request_id] = (loop, loop.create_future())
        self._wake_journal.set()
        try:
            return await asyncio.wait_for(
                asyncio.shield(waiter[1]), settings.LOG_JOURNAL_WAIT_SECONDS
            )
        except TimeoutError:
            self._stats.answers_unjournaled += 1
            return False
        finally:
            with self._lock:
                self._answers.pop(request_id, None)

    # --- the journal thread's side --------------------------------------------------------

    def taken(self, nbytes: int) -> None:
        """A record's images were let go: wake answers waiting for room."""
        self.taken_image_bytes += nbytes
        if self._room and self.inbox_image_bytes <= settings.LOG_INBOX_MAX_IMAGE_BYTES:
            self.wake_room()

    def wake_room(self) -> None:
        with self._lock:
            waiting, self._room = self._room, []
        for waiter in waiting:
            _wake(waiter, True)

    def answer(self, request_ids: list[str], ok: bool) -> None:
        """Wake the answers waiting on these records' journal append."""
        with self._lock:
            for request_id in request_ids:
                self._journaled_ids[request_id] = ok
                if (waiter := self._answers.pop(request_id, None)) is not None:
                    _wake(waiter, ok)
            while len(self._journaled_ids) > _JOURNALED_IDS_KEPT:
                self._journaled_ids.popitem(last=False)
