"""What /healthz and the logs UI's banner say of the log writer."""

import time

from django.conf import settings

from gateway.log import setaside
from gateway.log.journal import Journal
from gateway.redact import scrub_text


class Stats:
    """Counters the writer's threads keep (each counter has one thread writing it)."""

    def __init__(self) -> None:
        self.written = self.degraded = self.set_aside = self.replayed = 0
        self.unjournaled = 0  # entries held only in memory because the journal failed
        self.loop_restarts = self.errors = 0
        self.last_error = ""
        self.fault = ""  # the fault the database thread is waiting out, if any

    def error(self, message: str) -> None:
        self.errors += 1
        self.last_error = scrub_text(message)[:500]  # healthz needs no login: no user:pass@


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
        "written": stats.written,
        "degraded": stats.degraded,
        "replayed": stats.replayed,
        "unjournaled": stats.unjournaled,
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
