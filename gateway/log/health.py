"""What /healthz and the logs UI's banner say of the log writer."""

import errno
import time

from django.conf import settings

from gateway.log import setaside, tally
from gateway.log.journal import Journal


class Stats:
    """Counters the writer's threads keep (each counter has one thread writing it)."""

    def __init__(self) -> None:
        self.written = self.degraded = self.set_aside = self.replayed = 0
        self.unjournaled = 0  # entries held only in memory because the journal failed
        self.answers_unjournaled = 0  # LOG_JOURNAL_BEFORE_ANSWER answers sent without waiting
        self.loop_restarts = self.errors = 0
        self.last_error = ""
        self.fault = ""  # the fault the database thread is waiting out, if any

    def error(self, what: str, exc: BaseException) -> None:
        """Count an error; healthz (which needs no login) shows what failed and the error's
        kind and code, never its text (paths, host names): that goes to the process log."""
        self.errors += 1
        self.last_error = f"{what}: {describe(exc)}"[:300]


def describe(exc: BaseException) -> str:
    """An exception's class and, where it has one, its code: "OSError ENOSPC",
    "OperationalError SQLITE_FULL", "OperationalError SQLSTATE 08006"."""
    text = type(exc).__name__
    cause = exc.__cause__ or exc
    if isinstance(cause, OSError) and cause.errno in errno.errorcode:
        return f"{text} {errno.errorcode[cause.errno]}"
    if name := getattr(cause, "sqlite_errorname", None):
        return f"{text} {name}"
    if sqlstate := getattr(cause, "sqlstate", None):
        return f"{text} SQLSTATE {sqlstate}"
    return text


def report(
    stats: Stats, *, alive: bool | None, unwritten: int, queued_bytes: int, oldest: float | None
) -> dict:
    return {
        "writer_alive": alive,
        "queue_records": unwritten,
        "queue_bytes": queued_bytes,
        "oldest_unwritten_seconds": round(time.monotonic() - oldest, 3) if oldest else 0,
        "waiting_for": stats.fault or None,
        "journal_backlog_bytes": Journal.backlog_bytes(settings.LOG_SPOOL_DIR),
        "set_aside": setaside.count(),
        "lost_when_killed": tally.lost_total(),
        "written": stats.written,
        "degraded": stats.degraded,
        "replayed": stats.replayed,
        "unjournaled": stats.unjournaled,
        "answers_unjournaled": stats.answers_unjournaled,
        "loop_restarts": stats.loop_restarts,
        "errors": stats.errors,
        "last_error": stats.last_error or None,
    }


def problem(status: dict) -> str:
    """Why records are not being written, or "" (set-aside records are shown, not fatal)."""
    if status["writer_alive"] is False:
        return "the log writer is not running"
    if status["waiting_for"]:
        return f"log writes are waiting: {status['waiting_for']}"
    if status["oldest_unwritten_seconds"] > settings.LOG_HEALTH_MAX_AGE_SECONDS:
        return f"the oldest unwritten log record is {status['oldest_unwritten_seconds']:.0f} s old"
    return ""
