"""An Entry is a log record made ready for the database: plain data (row fields, image rows,
image bytes) that pickles compactly into the journal and is written by save().

A record that cannot be written as it is becomes a *degraded* entry instead of being lost:
the fields that cannot fail are kept, a JSON body that cannot be stored is cut to a depth and
a size, and `degraded` on the row says why.
"""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gateway import rollups
from gateway.log import blobs, insert, rows
from gateway.models import ApiKey, Blob, RequestLog

if TYPE_CHECKING:
    from gateway.log.record import Record

log = logging.getLogger(__name__)
# orjson's options that make it refuse what it would otherwise write as text or a dict.
_STRICT = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)

_JSON_FIELDS = (
    "metadata",
    "request_headers",
    "request_body",
    "upstream_body",
    "response_body",
    "prompt_variables",
    "attempts",
)
_DEGRADED_JSON_BYTES = 1_000_000  # a degraded row keeps at most this much of each body
_ROW_OVERHEAD = 2_048


@dataclass
class Entry:
    row: dict  # RequestLog fields
    images: list[dict] = field(default_factory=list)  # LogImage fields, without the log
    blobs: dict[str, blobs.BlobData] = field(default_factory=dict)
    replayed: bool = False  # read back from disk: may already be in the database
    refused_by_db: bool = False  # degraded after the database refused it as it was
    original: Entry | None = None  # what a degraded entry was made from

    def __reduce__(self):
        """Pickled for the journal with created_at and cost_usd as plain values: an aware
        datetime and a Decimal were 7 of a small entry's 12 µs of pickling. An Entry pickled
        before this (a plain dataclass pickle, in an older journal) still loads as it was."""
        row, packed = _packed(self.row)
        fields = (self.images, self.blobs, self.replayed, self.refused_by_db, self.original)
        return (_unpacked, (row, packed, *fields))

    def as_json(self) -> bytes | None:
        """The entry as the journal keeps it: JSON (orjson, a fifth of pickle's CPU for a small
        entry: ~3 µs against ~14), or None when JSON would not keep it as it is (image bytes, a
        degraded entry's original, an odd value) and it is pickled instead."""
        created, cost = self.row.get("created_at"), self.row.get("cost_usd")
        if self.blobs or self.original is not None or type(created) is not datetime.datetime:
            return None
        if created.tzinfo is not datetime.UTC or type(cost) not in (Decimal, type(None)):
            return None
        row = {**self.row, "created_at": created.isoformat()}
        if cost is not None:
            row["cost_usd"] = str(cost)
        try:  # any other date, dataclass, str subclass, Decimal, odd key or int: TypeError,
            # so no value is turned into text that from_json would not turn back (pickled)
            fields = (row, self.images, self.replayed, self.refused_by_db)
            return orjson.dumps(fields, option=_STRICT)
        except TypeError:
            return None

    @classmethod
    def from_json(cls, data: bytes) -> Entry:
        row, images, replayed, refused_by_db = orjson.loads(data)
        row["created_at"] = datetime.datetime.fromisoformat(row["created_at"])
        if row.get("cost_usd") is not None:
            row["cost_usd"] = Decimal(row["cost_usd"])
        return cls(row, images, replayed=replayed, refused_by_db=refused_by_db)

    @property
    def request_id(self) -> str:
        return self.row["request_id"]

    @property
    def degraded(self) -> str:
        return self.row.get("degraded", "")

    def nbytes(self) -> int:
        """Roughly what the entry holds in memory: its image bytes dominate."""
        return _ROW_OVERHEAD + sum(len(b.data or b"") for b in self.blobs.values())

    def with_reason(self, reason: str) -> None:
        self.row["degraded"] = "; ".join(filter(None, (self.degraded, reason)))[:500]

    def without_blobs(self, reason: str, shas: set[str] | None = None) -> Entry:
        """The entry with the image bytes left out (all, or those named), saying why."""
        dropped = set(self.blobs) if shas is None else shas & set(self.blobs)
        if not dropped:
            return self
        images = [_without(img, dropped, reason) for img in self.images]
        kept = {sha: b for sha, b in self.blobs.items() if sha not in dropped}
        entry = replace(self, row=dict(self.row), images=images, blobs=kept)
        entry.with_reason(f"images not stored: {reason}")
        return entry

    def refused(self, reason: str) -> Entry:
        """The database refused the row: keep only the fields that cannot fail."""
        row = {k: v for k, v in self.row.items() if k in rows.SUMMARY_FIELDS}
        row.pop("api_key_id", None)  # a key deleted meanwhile fails its foreign key
        row["request_body"] = {"_degraded": reason[:500]}
        entry = replace(self, row=row, refused_by_db=True, original=self)
        entry.with_reason(f"the database refused the record: {reason}")
        return entry


def _packed(row: dict) -> tuple[dict, tuple[str, ...]]:
    """The row with an aware UTC created_at made naive and a Decimal cost_usd made text, and
    the names of the fields so changed (for _unpacked)."""
    created, cost = row.get("created_at"), row.get("cost_usd")
    utc = type(created) is datetime.datetime and created.tzinfo is datetime.UTC
    decimal = type(cost) is Decimal
    if not (utc or decimal):
        return row, ()
    row = dict(row)
    if utc:
        row["created_at"] = created.replace(tzinfo=None)
    if decimal:
        row["cost_usd"] = str(cost)
    return row, ("created_at",) * utc + ("cost_usd",) * decimal


def _unpacked(row: dict, packed: tuple[str, ...], *fields) -> Entry:
    """The Entry pickled by Entry.__reduce__."""
    if "created_at" in packed:
        row["created_at"] = row["created_at"].replace(tzinfo=datetime.UTC)
    if "cost_usd" in packed:
        row["cost_usd"] = Decimal(row["cost_usd"])
    return Entry(row, *fields)


def _without(image: dict, dropped: set[str], reason: str) -> dict:
    """LogImage fields with the blobs dropped (the image shown, the copy sent) unset."""
    image = dict(image)
    if image["blob_id"] in dropped:
        image["blob_id"], image["error"] = None, f"image not stored: {reason}"
    if image.get("sent_blob_id") in dropped:
        image["sent_blob_id"] = None
    return image


def prepare(record: Record) -> Entry:
    """The entry of a record; never raises (a record that resists becomes degraded)."""
    try:
        return Entry(rows.full_fields(record), rows.image_fields(record), rows.blobs(record))
    except Exception as exc:  # RecursionError, odd types from an upstream, a bug of ours
        reason = f"{type(exc).__name__} while preparing the record: {exc}"[:300]
        log.warning("log record %s degraded: %s", record.request_id, reason)
    try:
        entry = Entry(rows.summary_fields(record), rows.image_fields(record), rows.blobs(record))
    except Exception:
        log.exception("log record %s reduced to its id", record.request_id)
        entry = Entry({"request_id": record.request_id, "created_at": record.created_at})
    for name in _JSON_FIELDS:
        entry.row[name] = _bounded(getattr(record, name, None), name, record)
    entry.with_reason(reason)
    return entry


def _bounded(value, name: str, record: Record):
    """A JSON value cut to GATEWAY_MAX_JSON_DEPTH levels and about 1 MB, or a note of why not."""
    if name == "request_body":
        value = record.chat.body if record.chat else None
    elif name == "upstream_body":
        value = None  # holds image data by identity only on the happy path: left out
    try:
        capped = rows.clean_json(cap_depth(value, settings.GATEWAY_MAX_JSON_DEPTH))
        if capped is not None and len(orjson.dumps(capped)) > _DEGRADED_JSON_BYTES:
            return {"_degraded": f"{name} larger than {_DEGRADED_JSON_BYTES} bytes: not kept"}
        return capped
    except Exception as exc:
        return {"_degraded": f"{name} could not be kept ({type(exc).__name__})"}


def cap_depth(value, depth: int):
    """The JSON value with anything nested deeper than `depth` replaced by a note. Recursion
    stops at `depth`, so no value, however deep, can exhaust the stack here."""
    if isinstance(value, dict | list) and depth <= 0:
        return "[nested too deep: cut]"
    if isinstance(value, dict):
        return {str(k): cap_depth(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [cap_depth(v, depth - 1) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)[:1000]


def save(entries: list[Entry]) -> list[Entry]:
    """Store the entries' blobs, then insert their rows in one transaction. Entries read back
    from disk that the database already holds are skipped. Returns the entries as written
    (an image left out by the quota says so). Raises blobs.StorageUnavailable, or the
    database's error."""
    stored_blobs = {sha: b for e in entries for sha, b in e.blobs.items()}
    new_blobs, refused = blobs.store(stored_blobs)
    if refused:
        reason = f"blob storage quota of {settings.IRIS_BLOB_QUOTA_BYTES} bytes reached"
        entries = [e.without_blobs(reason, refused) for e in entries]
    replayed = [e.request_id for e in entries if e.replayed]
    if replayed:
        present = set(
            RequestLog.objects.filter(request_id__in=replayed).values_list("request_id", flat=True)
        )
        entries = [e for e in entries if e.request_id not in present]
    with transaction.atomic():
        Blob.objects.bulk_create(new_blobs, ignore_conflicts=True)
        # Plain SQL from the field dicts: a third of bulk_create's CPU, no model instances.
        rows_ = insert.insert_log_rows([e.row for e in entries])
        images = insert.insert_image_rows(
            [
                {**img, "log_id": row.pk}
                for row, e in zip(rows_, entries, strict=True)
                for img in e.images
            ]
        )
        sizes = {sha: b.size for sha, b in stored_blobs.items()}
        rollups.add(rows_, images, sizes)  # the analytics' sums, in this transaction (never raises)
        used = _keys_due({e.row.get("api_key_id") for e in entries} - {None})
        if used:
            ApiKey.objects.filter(pk__in=used).update(last_used_at=timezone.now())
    _key_written.update(dict.fromkeys(used, time.monotonic()))  # committed
    return entries


_KEY_USED_EVERY = 60.0  # seconds: a key's last_used_at is written at most this often
_KEYS_KEPT = 10_000  # keys remembered (then forgotten all at once: a few extra updates)
_key_written: dict[int, float] = {}  # key id -> when this process last wrote last_used_at


def _keys_due(used: set[int]) -> list[int]:
    """The keys whose last_used_at this process has not written in _KEY_USED_EVERY: its
    UPDATE was ~8 % of the database thread's CPU in the small batches of image traffic."""
    now = time.monotonic()
    if len(_key_written) > _KEYS_KEPT:
        _key_written.clear()
    return [k for k in used if now - _key_written.get(k, -_KEY_USED_EVERY) >= _KEY_USED_EVERY]


def save_records(records: list[Record]) -> list[Entry]:
    """Prepare and save records at once, in this thread (seeding, tests)."""
    return save([prepare(r) for r in records])
