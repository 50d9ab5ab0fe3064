"""The request log: a Record per request, filled on the proxy path, written off it.

submit() never blocks and never raises. The writer (pipeline.py) journals records to disk
within LOG_FSYNC_SECONDS and writes them to the database in batches, waiting out faults that
heal and degrading records the database refuses; drain() (on SIGTERM through the ASGI
lifespan, and at exit) writes what is queued before the process ends.

    record.py     what is captured of one request
    rows.py       a record's row fields (images by reference, previews, search text)
    entry.py      a record made ready for the database; degraded forms; save()
    blobs.py      image bytes in storage: whole or not at all, repaired, under a quota
    journal.py    the write-ahead journal and its replay after a crash
    faults.py     a fault that heals vs. a record no database takes
    setaside.py   what fails even degraded, for `manage.py replay_failed`
    pipeline.py   the writer: two supervised threads (dbthread.py: the database thread's half)
    retention.py  LOG_RETENTION_DAYS
"""

import asyncio
import atexit
import logging
import time
from collections import OrderedDict

from django.conf import settings

from gateway import fetching, http
from gateway.images import Image
from gateway.log import answered
from gateway.log.pipeline import Writer
from gateway.log.record import Record

__all__ = ["Record", "drain", "status", "submit", "writer"]

log = logging.getLogger(__name__)

writer = Writer()
answered.install()  # a provider's 5xx passed on is logged as a WARNING, not as Iris's ERROR
atexit.register(writer.drain)

# URL images are snapshotted for the log in tasks off the response path; kept here so they
# are not garbage-collected mid-flight, and so shutdown can wait for them.
_pending: set[asyncio.Task] = set()


# Request ids this process submitted lately: a look-up of one not yet in the database is worth
# waiting for (the writer's next batch); of any other, not.
_recent: OrderedDict[str, float] = OrderedDict()
_RECENT_MAX = 10_000


def submitted_lately(request_id: str, seconds: float = 30.0) -> bool:
    submitted = _recent.get(request_id)
    return submitted is not None and time.monotonic() - submitted < seconds


def submit(record: Record) -> None:
    """Hand a finished record to the writer, once. Never blocks, never raises."""
    if record.submitted:
        return
    record.submitted = True
    _recent[record.request_id] = time.monotonic()
    if len(_recent) > _RECENT_MAX:
        _recent.popitem(last=False)
    try:
        images = record.chat.images if record.chat and settings.GATEWAY_SNAPSHOT_URL_IMAGES else []
        missing = [
            img
            for img in [*images, *record.url_outputs]  # outputs always: their URLs expire
            if img.origin == "url" and img.data is None and not img.error
        ]
        if missing:
            # Journaled now, as it is; written once the snapshot is taken (seconds later).
            writer.put(record, provisional=True)
            task = asyncio.get_running_loop().create_task(_snapshot_then_put(record, missing))
            _pending.add(task)
            task.add_done_callback(_pending.discard)
        else:
            writer.put(record)
    except Exception:
        log.exception("could not queue a log record")
        writer.put(record)


class _SnapshotBudget(http.ByteBudget):
    """Bytes of URL snapshots this process holds at once, from the fetch until the writer takes
    them (its own budgets bound them from there). Answers do not wait for snapshots, so without
    it a burst of requests naming big URLs fetched them all at once (927 MB, bench/run.py)."""

    too_much = (
        "not kept: {limit} bytes of URL snapshots were already in memory "
        "(GATEWAY_SNAPSHOT_MAX_BYTES)"
    )
    refused = 0  # snapshots not kept for want of room, since the start (shown in /healthz)

    def take(self, n: int) -> None:
        self.limit = settings.GATEWAY_SNAPSHOT_MAX_BYTES
        try:
            super().take(n)
        except http.FetchError:
            self.refused += 1
            raise


_snapshot_budget = _SnapshotBudget(settings.GATEWAY_SNAPSHOT_MAX_BYTES)


async def _snapshot_then_put(record: Record, images: list[Image]) -> None:
    drawn = 0
    try:
        # A URL named many times is fetched once; past the budget, the image says why.
        drawn = await fetching.fetch_images(images, shared=_snapshot_budget, timed=False)
    finally:
        writer.put(record)
        _snapshot_budget.give_back(drawn)


def snapshot_status() -> dict:
    budget = _snapshot_budget
    return {"bytes_in_memory": budget.used, "limit": budget.limit, "not_kept": budget.refused}


async def drain() -> None:
    """Finish pending snapshots, then write every queued record (ASGI lifespan shutdown)."""
    if _pending:
        await asyncio.wait(list(_pending), timeout=settings.GATEWAY_IMAGE_FETCH_TIMEOUT + 5)
    await asyncio.to_thread(writer.drain, settings.LOG_DRAIN_SECONDS)


def status() -> dict:
    return writer.status()
