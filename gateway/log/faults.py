"""Telling a fault that heals from a record no database will take.

A write can fail because the database is unavailable, read-only or locked, or because blob
storage is full or unwritable: those faults heal, and the records wait for them. Or it can
fail because of the record itself: that record is degraded, never the batch it is in. SQLite
answers `SELECT 1` while read-only or write-locked, so the probe here is a write.
"""

import contextlib
import enum

from django.db import DatabaseError, InterfaceError, OperationalError, connection

from gateway.log.blobs import StorageUnavailable


class Fault(enum.Enum):
    DATABASE_UNAVAILABLE = "database unavailable"
    STORAGE_UNAVAILABLE = "blob storage unavailable"
    BAD_RECORD = "a record the database refuses"


def classify(exc: BaseException) -> Fault:
    if isinstance(exc, StorageUnavailable):
        return Fault.STORAGE_UNAVAILABLE
    if isinstance(exc, OperationalError | InterfaceError) and not database_accepts_writes():
        return Fault.DATABASE_UNAVAILABLE
    if isinstance(exc, DatabaseError) and not database_accepts_writes():
        return Fault.DATABASE_UNAVAILABLE
    return Fault.BAD_RECORD


def database_accepts_writes() -> bool:
    """An update that changes nothing still needs a writable, unlocked database."""
    from django.db import close_old_connections

    try:
        close_old_connections()
        if connection.in_atomic_block:  # pragma: no cover - the writer never nests
            return True
        with connection.cursor() as cursor:
            cursor.execute("UPDATE gateway_requestlog SET status_code = status_code WHERE id = -1")
        return True
    except Exception:
        with contextlib.suppress(Exception):
            connection.close()  # a broken connection is not reused
        return False
