"""Log retention: delete records older than LOG_RETENTION_DAYS, then images nobody uses:
no log and no prompt version refers to them, and they were not uploaded in the last day (an
image uploaded in the prompt editor is referenced only once its version is saved). A blob is
used as the image a log shows or as the copy it sent (auto-fit); files made from a blob
(thumbnails, "as the model saw it") go with it.

Records go in batches of LOG_RETENTION_BATCH, each batch its own short transaction (its
images' rows, replays and batch items go with it by the foreign keys' cascades): a month of
logs is millions of rows, and one DELETE of them would hold its locks, and the write-ahead
log, for minutes. Each batch is the oldest rows, found by the created_at index from where
the last batch ended (not from the index's start, which holds the dead entries of every
batch before until vacuum). Why not monthly partitions dropped whole: a partitioned table
needs the partition key in every unique constraint (request_id) and primary key, and foreign
keys into it (images, replays, batch items) would need the key too; batches cost a few
seconds of one core per million rows and keep the schema as it is on SQLite.
"""

import datetime as dt
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from gateway import rollups
from gateway.log import blobs
from gateway.models import Blob, PromptVersion, RequestLog
from gateway.prompts import blob_refs

log = logging.getLogger(__name__)
UPLOAD_GRACE = dt.timedelta(days=1)


def purge(
    *,
    days: int | None = None,
    batch: int | None = None,
    on_batch: Callable[[int, float], None] | None = None,
) -> tuple[int, int]:
    """Return (records deleted, image blobs deleted). on_batch(rows, seconds) is told of each
    batch's transaction (the benchmark's measure of the longest)."""
    days = settings.LOG_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - dt.timedelta(days=days)
    records = delete_before(cutoff, batch or settings.LOG_RETENTION_BATCH, on_batch)
    rollups.purge(cutoff)
    in_prompts = set().union(
        *(blob_refs(m) for m in PromptVersion.objects.values_list("messages", flat=True))
    )
    orphans = list(
        Blob.objects.filter(
            uses__isnull=True, sent_uses__isnull=True, created_at__lt=timezone.now() - UPLOAD_GRACE
        )
        .exclude(sha256__in=in_prompts)
        .values_list("sha256", flat=True)
    )
    for sha in orphans:
        # The file first: a blob row without its file would be worse than a stray file.
        default_storage.delete(Blob(sha256=sha).storage_name)
    _delete_derived(orphans)
    Blob.objects.filter(sha256__in=orphans, uses__isnull=True, sent_uses__isnull=True).delete()
    blobs.quota.used = None  # counted afresh: IRIS_BLOB_QUOTA_BYTES has room again
    if records or orphans:
        log.info("retention: deleted %d log records and %d images", records, len(orphans))
    return records, len(orphans)


def delete_before(
    cutoff: dt.datetime, batch: int, on_batch: Callable[[int, float], None] | None = None
) -> int:
    """Delete the records created before `cutoff`, `batch` at a time, each batch in its own
    transaction; return how many."""
    deleted, after = 0, None
    while True:
        started = time.perf_counter()
        with transaction.atomic():
            old = RequestLog.objects.filter(created_at__lt=cutoff)
            if after is not None:  # seek past the batches already gone
                old = old.filter(created_at__gte=after)
            found = list(old.order_by("created_at").values_list("id", "created_at")[:batch])
            if found:
                # only("id"): the collector reads no bodies; images, replays and batch items
                # are deleted (or unlinked) by their log ids, each one statement.
                RequestLog.objects.filter(id__in=[pk for pk, _ in found]).only("id").delete()
        if not found:
            return deleted
        deleted, after = deleted + len(found), found[-1][1]
        if on_batch:
            on_batch(len(found), time.perf_counter() - started)
        if len(found) < batch:
            return deleted


DERIVED = ("thumbs", "seen")  # logs_ui's files named "<folder>/<sha[:2]>/<sha>-…"


def _delete_derived(shas: list[str]) -> None:
    """The files made from these blobs: each shard folder listed once, not once a blob."""
    by_shard: dict[str, set[str]] = {}
    for sha in shas:
        by_shard.setdefault(sha[:2], set()).add(sha)
    for folder in DERIVED:
        for shard, gone in by_shard.items():
            directory = f"{folder}/{shard}"
            try:
                names = default_storage.listdir(directory)[1]
            except FileNotFoundError:
                continue
            for name in names:
                if name[:64] in gone:
                    default_storage.delete(f"{directory}/{name}")
