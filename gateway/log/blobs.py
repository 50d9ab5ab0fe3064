"""Image bytes in blob storage, named by SHA-256: written whole or not at all, repaired when a
file is found incomplete, and kept under IRIS_BLOB_QUOTA_BYTES (counted from the Blob rows,
so it works the same on S3).

Runs in the log writer's threads (and for prompt uploads), never on the event loop. On local
storage the journal thread writes the files ahead (write_ahead); on a remote store (S3) the
journal keeps the bytes and the database thread uploads them: one PUT for a new image, one
HEAD the first time a process meets an image it already has a row for, nothing afterwards
(`present`). A remote store that fails raises StorageUnavailable: the records wait.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.db.models import Sum

from gateway.images import Image, ImageError, sniff
from gateway.models import Blob, blob_name


class StorageUnavailable(Exception):
    """Blob storage refused a write (full, read-only, unreachable): a fault that heals."""


@dataclass
class BlobData:
    """An image's bytes and what the Blob row says of them. `data` is None once the journal
    thread has written the file (see write_ahead): only the row is still to make."""

    data: bytes | None
    mime: str
    width: int | None
    height: int | None
    frames: int = 1
    exif_orientation: int | None = None
    size: int = -1

    @classmethod
    def of(cls, img: Image) -> BlobData:
        return cls(img.data, img.mime, img.width, img.height, img.frames, img.exif_orientation)

    @classmethod
    def sent(cls, img: Image) -> tuple[str, BlobData]:
        """(SHA-256, blob) of the copy sent upstream in place of img's bytes (auto-fit's or a
        conversion's: img.converted), measured from its header."""
        data, mime = img.converted or (b"", "")
        try:
            info = sniff(data)
            facts = (info.width, info.height, info.frames, info.exif_orientation)
        except ImageError:
            facts = (None, None, 1, None)
        return hashlib.sha256(data).hexdigest(), cls(data, mime, *facts)

    def __post_init__(self) -> None:
        if self.size < 0:
            self.size = len(self.data or b"")

    def row(self, sha256: str) -> Blob:
        return Blob(
            sha256=sha256,
            mime=self.mime,
            width=self.width,
            height=self.height,
            size=self.size,
            frames=self.frames,
            exif_orientation=self.exif_orientation,
        )


class _Quota:
    """Bytes stored so far, summed from the Blob rows once per process, then counted on."""

    used: int | None = None

    def allows(self, size: int) -> bool:
        limit = settings.IRIS_BLOB_QUOTA_BYTES
        if not limit:
            return True
        if self.used is None:
            self.used = Blob.objects.aggregate(total=Sum("size"))["total"] or 0
        return self.used + size <= limit

    def add(self, size: int) -> None:
        if self.used is not None:
            self.used += size


quota = _Quota()


class _Present:
    """SHA-256s this process has found (or put) whole in remote storage, newest last, so an
    image sent again costs no round trip; at most IRIS_BLOB_PRESENT_CACHE_BYTES. Trusted only
    while the image's Blob row exists: retention deletes the file first, then the row."""

    ENTRY_BYTES = 205  # a 64-character key in an OrderedDict, measured with tracemalloc

    def __init__(self) -> None:
        self._shas: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, sha256: object) -> bool:
        with self._lock:
            if sha256 not in self._shas:
                return False
            self._shas.move_to_end(sha256)  # type: ignore[arg-type]
            return True

    def add(self, sha256: str) -> None:
        limit = settings.IRIS_BLOB_PRESENT_CACHE_BYTES // self.ENTRY_BYTES
        with self._lock:
            self._shas[sha256] = None
            self._shas.move_to_end(sha256)
            while len(self._shas) > limit:
                self._shas.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._shas.clear()

    def __len__(self) -> int:
        return len(self._shas)


present = _Present()


def is_local() -> bool:
    return isinstance(default_storage, FileSystemStorage)


def store(blobs: dict[str, BlobData]) -> tuple[list[Blob], set[str]]:
    """Write each blob whose file is missing or incomplete. Return the Blob rows still to insert
    (callers bulk-create them, ignoring conflicts) and the SHA-256s left out by the quota.
    Raises StorageUnavailable when storage refuses a write."""
    if not blobs:
        return [], set()
    known = _known(list(blobs))
    rows, refused = [], set()
    for sha, blob in blobs.items():
        if blob.data is None:  # its file is written already
            if sha not in known:
                rows.append(blob.row(sha))
            continue
        if sha not in known and not quota.allows(blob.size):
            refused.add(sha)
            continue
        remote = not is_local()
        if remote and sha in known and sha in present:
            continue  # row and file both there: no round trip
        try:
            # A remote image with no row yet is new (or left by a crash): put it, no HEAD first.
            new = remote and sha not in known
            written = _put(sha, blob.data) if new else ensure_whole(sha, blob.data)
        except (OSError, StorageUnavailable) as exc:
            raise StorageUnavailable(f"blob storage refused a write: {exc}") from exc
        except Exception as exc:  # a remote backend's own errors (S3 unreachable, ...)
            raise StorageUnavailable(f"blob storage failed: {type(exc).__name__}: {exc}") from exc
        if remote:
            present.add(sha)
        if sha not in known:
            rows.append(blob.row(sha))
            if written:
                quota.add(blob.size)
    return rows, refused


def _known(shas: list[str]) -> set[str]:
    """Which of these SHA-256s have a Blob row, in plain SQL (the ORM's query building was
    16 % of the database thread's CPU in the small batches of image traffic)."""
    q = connection.ops.quote_name
    table, pk = q(Blob._meta.db_table), q(Blob._meta.pk.column)
    found: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(shas), 500):  # SQLite's limit is 999 on old builds
            chunk = shas[start : start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT {pk} FROM {table} WHERE {pk} IN ({marks})", chunk)
            found.update(sha for (sha,) in cursor.fetchall())
    return found


def write_ahead(blobs: dict[str, BlobData]) -> dict[str, BlobData]:
    """Write the image files now, in the journal thread, so the journal need not carry their
    bytes (written once, not twice; a full disk holds them once). Only for local storage
    with no quota: a remote store would hold up the journal, and a quota is counted from the
    database. Returns the blobs as the journal should keep them; raises OSError."""
    if not blobs:  # most records: no look at the settings and the storage (~4 µs a record)
        return blobs
    if settings.IRIS_BLOB_QUOTA_BYTES or not isinstance(default_storage, FileSystemStorage):
        return blobs
    kept = {}
    for sha, blob in blobs.items():
        if blob.data is not None:
            ensure_whole(sha, blob.data)
            blob = replace(blob, data=None)
        kept[sha] = blob
    return kept


def read(name: str) -> bytes:
    """A stored file's bytes; FileNotFoundError when it is not there. On S3 one GET, where
    Django's open() then read() costs two HEADs and a GET (S3File's load, then s3transfer's)."""
    storage = default_storage
    if not hasattr(storage, "bucket") or not hasattr(storage, "_normalize_name"):
        with storage.open(name) as f:
            return f.read()
    from botocore.exceptions import ClientError
    from storages.utils import clean_name

    key = storage._normalize_name(clean_name(name))  # the key under IRIS_S3_PREFIX
    try:
        return storage.bucket.Object(key).get()["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            raise FileNotFoundError(f"not in blob storage: {name}") from None
        raise


def ensure_whole(sha256: str, data: bytes) -> bool:
    """Make sure storage holds these bytes whole under their name; True when it wrote them. A
    file of the wrong size (cut short by a full disk, say) is replaced."""
    name = blob_name(sha256)
    storage = default_storage
    try:
        # One stat locally; one HEAD remotely (size() raises FileNotFoundError when absent).
        if storage.size(name) == len(data):
            return False
    except FileNotFoundError:
        pass
    if isinstance(storage, FileSystemStorage):
        _replace_file(Path(storage.path(name)), data)
        return True
    return _put(sha256, data)


def _put(sha256: str, data: bytes) -> bool:
    """Upload to a remote store. S3 keeps an object whole or not at all (and boto3 sends a
    checksum the server verifies); other backends are checked after writing."""
    name = blob_name(sha256)
    storage = default_storage
    overwrites = getattr(storage, "file_overwrite", False)  # django-storages' S3, GCS, Azure
    if not overwrites and storage.exists(name):
        storage.delete(name)  # else save() would pick another name
    saved = storage.save(name, ContentFile(data))
    if saved != name or (not overwrites and storage.size(name) != len(data)):
        storage.delete(saved)
        raise StorageUnavailable(f"blob storage kept {saved!r} incomplete")
    return True


def _replace_file(path: Path, data: bytes) -> None:
    """Write aside, then rename over: readers see the old file or the whole new one, and a
    write cut short leaves no file under the blob's name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        with open(partial, "wb") as f:
            written = f.write(data)
        if written != len(data):  # pragma: no cover - write() raises rather than short-writes
            raise OSError(errno.EIO, "short write")
        os.chmod(partial, settings.FILE_UPLOAD_PERMISSIONS or 0o644)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


PROBE_SECONDS = 5.0  # a remote store is probed at most this often per process
_probed: tuple[float, BaseException | None] = (-PROBE_SECONDS, None)


def probe() -> None:
    """Write a small file, as an image would be written (healthz); raises if storage refuses.
    Locally: written whole or not at all and deleted, so a full disk leaves no stray probe.
    Remotely: one PUT over the same key, its outcome kept PROBE_SECONDS, so a load balancer
    polling healthz costs S3 little and never waits on a dead S3 more than once per period."""
    global _probed
    storage = default_storage
    if isinstance(storage, FileSystemStorage):
        path = Path(storage.path("healthz/probe"))
        _replace_file(path, b"ok")
        path.unlink(missing_ok=True)
        return
    at, failure = _probed
    if time.monotonic() - at >= PROBE_SECONDS:
        try:
            storage.save("healthz/probe", ContentFile(b"ok"))
            failure = None
        except Exception as exc:
            failure = exc
        _probed = (time.monotonic(), failure)
    if failure is not None:
        raise StorageUnavailable(f"blob storage unavailable ({type(failure).__name__})")
