"""Log retention: delete records older than LOG_RETENTION_DAYS, then images nobody uses:
no log and no prompt version refers to them, and they were not uploaded in the last day (an
image uploaded in the prompt editor is referenced only once its version is saved). A blob is
used as the image a log shows or as the copy it sent (auto-fit); files made from a blob
(thumbnails, "as the model saw it") go with it."""

import datetime as dt
import logging

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from gateway import rollups
from gateway.log import blobs
from gateway.models import Blob, PromptVersion, RequestLog
from gateway.prompts import blob_refs

log = logging.getLogger(__name__)
UPLOAD_GRACE = dt.timedelta(days=1)


def purge(*, days: int | None = None) -> tuple[int, int]:
    """Return (records deleted, image blobs deleted)."""
    days = settings.LOG_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - dt.timedelta(days=days)
    _, deleted = RequestLog.objects.filter(created_at__lt=cutoff).delete()
    records = deleted.get(RequestLog._meta.label, 0)  # not their images' rows too
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
