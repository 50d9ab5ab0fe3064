"""Entries that failed even degraded: kept whole on disk, counted, shown, and retried by
`manage.py replay_failed`. One file per entry, under LOG_SPOOL_DIR/failed/."""

import contextlib
import logging
import pickle
from pathlib import Path

import orjson
from django.conf import settings

from gateway.log.entry import Entry

log = logging.getLogger(__name__)

# .entry: an Entry to retry; .json: a summary (the entry would not pickle); .seg: journal
# records that would not unpickle; .pickle: a spool file of Iris before the journal.
_KINDS = {".entry", ".json", ".seg", ".pickle", ".failed"}


def folder() -> Path:
    return settings.LOG_SPOOL_DIR / "failed"


def ensure() -> bool:
    try:
        folder().mkdir(parents=True, exist_ok=True)
        return True
    except OSError:
        return False


def put(entry: Entry, reason: str) -> bool:
    """Keep the entry for a developer to look at and retry; False if even this failed (a
    full disk): the caller then keeps it where it was (the journal)."""
    name = entry.request_id or "unknown"
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
        return True
    except Exception:
        log.exception("log record %s could not be set aside", name)
        with contextlib.suppress(OSError):
            (folder() / f"{name}.partial").unlink(missing_ok=True)
        return False


def keep_bytes(name: str, records: list[bytes]) -> None:
    """Journal records that would not unpickle (say, after a code change), kept as they were."""
    try:
        folder().mkdir(parents=True, exist_ok=True)
        (folder() / f"{name}.seg").write_bytes(b"".join(records))
    except OSError:
        log.exception("unreadable journal records of %s could not be kept", name)


def count() -> int:
    try:
        return sum(1 for p in folder().iterdir() if p.suffix in _KINDS)
    except OSError:  # no folder yet
        return 0


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
