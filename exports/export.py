"""A filter's records as a dataset zip, streamed: data.jsonl and images/ (each image once).

Two passes over the same snapshot of the filter (its ids up to the newest at the start):
1. images/: the distinct blobs the records name (the database deduplicates), BLOB_PAGE at
   a time by keyset on sha256, each read from blob storage in pieces;
2. data.jsonl: the records in id order, CHUNK_RECORDS at a time by keyset, each chunk's
   images and feedback in one query.
Keyset pages, not a cursor: no cursor stays open across the streamed response's pauses. On
/v1/ every request's ORM work shares one sync thread, where orm() closes connections older
than CONN_MAX_AGE; an open cursor would die mid-zip (tests/exports/test_connection.py).
Memory holds one chunk of records and one piece of one image, whatever the export's size
(bench/export_memory.py; tests/exports/test_memory.py). Images go first so that the bytes
the client has received, against the image bytes announced up front, measure the progress.
"""

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Max, QuerySet, Sum

from exports import records
from exports.zipstream import ZipStream
from feedback.query import as_dict, for_logs
from gateway.log.health import describe
from gateway.logquery import LogFilter, filter_logs
from gateway.models import Blob, LogImage, blob_name

CHUNK_RECORDS = 100
BLOB_PAGE = 500
READ_BYTES = 256 * 1024


# Only what a line needs: not search_text (up to 20 kB a row), upstream_body, headers…
_LOG_FIELDS = (
    "id",
    "request_id",
    "created_at",
    "provider",
    "model",
    "endpoint",
    "trace_id",
    "metadata",
    "request_body",
    "response_body",
    "status_code",
    "error_type",
    "error_message",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_usd",
)
_IMAGE_FIELDS = (
    "log_id",
    "role",
    "message_index",
    "part_index",
    "partial_index",
    "url",
    "blob__sha256",
    "blob__mime",
)


class ExportTooLarge(Exception):
    """The filter selects more records than GATEWAY_MAX_EXPORT_RECORDS."""


def max_records() -> int:
    return settings.GATEWAY_MAX_EXPORT_RECORDS


@dataclass(frozen=True)
class Export:
    """What an export will write: the records' ids are those the filter selects up to
    `last_id` (records logged after the export started are not in it)."""

    log_filter: LogFilter
    last_id: int
    records: int
    image_bytes: int

    def logs(self) -> QuerySet:
        return filter_logs(self.log_filter).filter(id__lte=self.last_id).order_by()

    def blobs(self) -> QuerySet:
        used = LogImage.objects.filter(
            log_id__in=self.logs().values("id"), role__in=records.EXPORTED_ROLES
        ).values("blob_id")
        return Blob.objects.filter(sha256__in=used)


def plan(log_filter: LogFilter) -> Export:
    """Count what the filter selects (all pages, the list's cursors and sort ignored);
    ExportTooLarge past the limit, before anything is written."""
    f = replace(log_filter, before=None, before_cost=None, after=None, sort="")
    selected = filter_logs(f).order_by()
    found = selected.aggregate(last=Max("id"))
    last_id = found["last"] or 0
    draft = Export(f, last_id, 0, 0)
    count = draft.logs().count()
    limit = max_records()
    if count > limit:
        raise ExportTooLarge(
            f"The filter selects {count:,} records; an export holds at most {limit:,} "
            "(GATEWAY_MAX_EXPORT_RECORDS). Narrow the filter, e.g. by time."
        )
    image_bytes = draft.blobs().aggregate(total=Sum("size"))["total"] or 0
    return replace(draft, records=count, image_bytes=image_bytes)


# Images listed in missing_images.jsonl at most; past it one line says how many more.
MISSING_LISTED = 10_000


def stream(export: Export) -> Iterator[bytes]:
    """The zip, in chunks of about zipstream.CHUNK bytes. An image that cannot be read (its
    file gone, blob storage down) is left out and listed in missing_images.jsonl: the rest of
    the dataset still arrives whole, and the lines still name it. Once storage itself fails
    (not one file missing), the images left are listed without asking it again: each attempt
    at a dead S3 costs its timeouts and retries, in the thread the ORM shares."""
    zip_ = ZipStream()
    missing: list[dict] = []
    unreachable = ""  # why storage failed, once it has
    for sha256, mime, size in _blobs(export):
        name = records.file_name(sha256, mime)
        if unreachable:
            _note(missing, name, sha256, f"not tried: {unreachable}")
            yield b""  # one image per step of the response: the shared thread is let go
            continue
        handle = None
        try:
            handle = default_storage.open(blob_name(sha256), "rb")
            # Read before the entry begins: S3's file downloads the whole object here, so a
            # storage failure leaves nothing half-written in the zip.
            first = handle.read(READ_BYTES)
        except Exception as exc:  # noqa: BLE001 - OSError, botocore's errors, storages'
            if handle is not None:
                handle.close()
            _note(missing, name, sha256, describe(exc))
            if not _gone(exc):
                unreachable = f"blob storage failed ({describe(exc)})"
            yield b""
            continue
        with handle:
            pieces = itertools.chain([first], _pieces(handle))
            yield from zip_.add(name, pieces, size=size, compress=False)
    yield from zip_.add("data.jsonl", _lines(export))
    if missing:
        yield from zip_.add("missing_images.jsonl", _missing_lines(missing))
    yield from zip_.finish()


def _gone(exc: Exception) -> bool:
    """One file missing (the row outlived it), as opposed to storage failing: a missing file,
    or S3's 404 / NoSuchKey."""
    if isinstance(exc, FileNotFoundError):
        return True
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")  # botocore's ClientError
    return code in ("404", "NoSuchKey")


def _note(missing: list[dict], name: str, sha256: str, error: str) -> None:
    if len(missing) < MISSING_LISTED:
        missing.append({"file": name, "sha256": sha256, "error": error})
    elif len(missing) == MISSING_LISTED:
        missing.append({"more": 1})
    else:
        missing[-1]["more"] += 1


def _missing_lines(missing: list[dict]) -> Iterator[bytes]:
    for item in missing:
        if "more" in item:
            item = {"more_images_not_listed": item["more"]}
        yield (json.dumps(item) + "\n").encode()


def _blobs(export: Export) -> Iterator[tuple[str, str, int]]:
    """(sha256, mime, size) of the export's blobs in sha256 order, a page per query."""
    after = ""
    while True:
        found = export.blobs().filter(sha256__gt=after).order_by("sha256")
        page = list(found.values_list("sha256", "mime", "size")[:BLOB_PAGE])
        if not page:
            return
        yield from page
        after = page[-1][0]


def _pieces(handle) -> Iterator[bytes]:
    while piece := handle.read(READ_BYTES):
        yield piece


def _lines(export: Export) -> Iterator[bytes]:
    after = 0
    while True:
        rows = export.logs().filter(id__gt=after).order_by("id").only(*_LOG_FIELDS)
        chunk = list(rows[:CHUNK_RECORDS])
        if not chunk:
            return
        # Not prefetch_related: its caches tie each image back to its record in cycles that
        # only the garbage collector frees, so every chunk would stay in memory until then.
        images: dict[int, list[LogImage]] = {}
        found = LogImage.objects.filter(log_id__in=[log.id for log in chunk])
        for image in found.select_related("blob").only(*_IMAGE_FIELDS):
            images.setdefault(image.log_id, []).append(image)
        feedback = for_logs(chunk)
        lines = []
        for log in chunk:
            given = [as_dict(fb) for fb in feedback.get(log.id, ())]
            line = records.record_line(log, images.get(log.id, ()), given)
            lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
        yield ("\n".join(lines) + "\n").encode()
        after = chunk[-1].id
