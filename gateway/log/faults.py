"""Telling a fault that heals from a record no database will take.

A write can fail because the database is unavailable, read-only, locked or full, or because
blob storage is full or unwritable: those faults heal, and the records wait for them. Or it
can fail because of the record itself: that record is degraded, never the batch it is in.
The database's own error code decides where it has one; otherwise a write probe does (SQLite
answers `SELECT 1` while read-only or write-locked, so the probe is an update).
"""

import contextlib
import enum
import sqlite3

from django.db import DatabaseError, connection

from gateway.log.blobs import StorageUnavailable


class Fault(enum.Enum):
    DATABASE_UNAVAILABLE = "database unavailable"
    STORAGE_UNAVAILABLE = "blob storage unavailable"
    BAD_RECORD = "a record the database refuses"


# SQLite primary result codes: BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL
# heal; TOOBIG, CONSTRAINT, MISMATCH and RANGE come from the record. Others: the probe says.
_SQLITE_HEALING = {5, 6, 7, 8, 10, 13, 14, 15}
_SQLITE_RECORD = {18, 19, 20, 25}
# PostgreSQL SQLSTATE classes: connection (08), resources such as a full disk (53), operator
# intervention such as a shutdown (57), system errors (58), rollbacks such as deadlocks (40);
# and read-only transactions and lock timeouts.
_PG_HEALING_CLASSES = {"08", "53", "57", "58", "40"}
_PG_HEALING_CODES = {"25006", "55P03", "55006"}
# Data (22) and integrity (23) errors come from the record itself.
_PG_RECORD_CLASSES = {"22", "23"}


def classify(exc: BaseException) -> Fault:
    if isinstance(exc, StorageUnavailable):
        return Fault.STORAGE_UNAVAILABLE
    if not isinstance(exc, DatabaseError):
        return Fault.BAD_RECORD  # ours: RecursionError, a value no column takes...
    cause = exc.__cause__
    if isinstance(cause, sqlite3.Error) and (code := getattr(cause, "sqlite_errorcode", None)):
        if code & 0xFF in _SQLITE_HEALING:
            return Fault.DATABASE_UNAVAILABLE
        if code & 0xFF in _SQLITE_RECORD:
            return Fault.BAD_RECORD
    if sqlstate := getattr(cause, "sqlstate", None):
        if sqlstate in _PG_HEALING_CODES or sqlstate[:2] in _PG_HEALING_CLASSES:
            return Fault.DATABASE_UNAVAILABLE
        if sqlstate[:2] in _PG_RECORD_CLASSES:
            return Fault.BAD_RECORD
    return Fault.BAD_RECORD if database_accepts_writes() else Fault.DATABASE_UNAVAILABLE


def database_accepts_writes() -> bool:
    """An update that changes nothing still needs a writable, unlocked database."""
    from django.db import close_old_connections

    try:
        close_old_connections()
        with connection.cursor() as cursor:
            cursor.execute("UPDATE gateway_requestlog SET status_code = status_code WHERE id = -1")
        return True
    except Exception:
        with contextlib.suppress(Exception):
            connection.close()  # a broken connection is not reused
        return False
