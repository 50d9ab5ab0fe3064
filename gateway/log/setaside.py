"""Entries that failed even degraded: kept whole on disk, counted, shown, and retried by
`manage.py replay_failed`. One file per entry, under LOG_SPOOL_DIR/failed/."""

import logging
import pickle
from pathlib import Path

import orjson
from django.conf import settings

from gateway.log.entry import Entry

log = logging.getLogger(__name__)


def folder() -> Path:
    return settings.LOG_SPOOL_DIR / "failed"


def put(entry: Entry, reason: str) -> None:
    """Keep the entry for a developer to look at and retry. Never raises: if even this
    fails, the entry's summary goes to the process log (the last trace left)."""
    name = f"{entry.request_id or 'unknown'}"
    try:
        folder().mkdir(parents=True, exist_ok=True)
        partial = folder() / f"{name}.partial"
        try:
            partial.write_bytes(pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
            partial.replace(folder() / f"{name}.entry")
        except (pickle.PicklingError, RecursionError, TypeError):
            summary = {k: str(v)[:1000] for k, v in entry.row.items()}
            partial.write_bytes(orjson.dumps({"reason": reason, "row": summary}))
            partial.replace(folder() / f"{name}.json")
        log.error("log record %s set aside (%s)", name, reason)
    except Exception:
        log.exception("log record %s could not even be set aside: %r", name, entry.row)


def count() -> int:
    return (
        sum(1 for p in folder().glob("*") if p.suffix in {".entry", ".json"})
        if folder().exists()
        else 0
    )


def entries() -> list[tuple[Path, Entry]]:
    """The set-aside entries that can be read back (the .json summaries cannot be retried)."""
    found = []
    for path in sorted(folder().glob("*.entry")) if folder().exists() else ():
        try:
            entry = pickle.loads(path.read_bytes())
        except Exception:
            log.exception("set-aside entry %s cannot be read", path.name)
            continue
        entry.replayed = True
        found.append((path, entry))
    return found
