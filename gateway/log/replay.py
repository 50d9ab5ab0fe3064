"""Writing back what stopped processes left on disk: their journal folders, and the spool
files of Iris before the journal (lists of Records pickled as `gateway.capture.Record`)."""

from __future__ import annotations

import io
import logging
import pickle
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.conf import settings

from gateway.log import setaside, tally
from gateway.log.entry import Entry, prepare
from gateway.log.journal import Journal, Unreadable, final_ids, read_segment

log = logging.getLogger(__name__)

# Writes a batch; False when it gave up (a drain's deadline): what is left stays on disk.
Write = Callable[[list[Entry]], bool]


def abandoned_journals(journal: Journal, write: Write) -> int:
    """Write the journals of dead processes; return how many entries were read back."""
    count = 0
    for folder in journal.abandoned():
        finals = final_ids(folder)
        for segment in sorted(folder.glob("*.seg")):
            unreadable = Unreadable()
            for chunk in _chunks(read_segment(segment, finals, unreadable)):
                if not write(chunk):
                    return count
                count += len(chunk)
            if unreadable:  # kept for a developer, not deleted with the segment
                setaside.keep_bytes(f"{folder.name}-{segment.name}", unreadable)
            segment.unlink()
        log.info("replayed the log journal of a stopped process (%s)", folder.name)
        tally.account_for(folder)  # what it was handed and never journaled: counted
        for leftover in folder.iterdir():
            leftover.unlink(missing_ok=True)
        folder.rmdir()
    return count


def legacy_spool(write: Write) -> int:
    """Write the `*.pickle` spool files an Iris before the journal left in LOG_SPOOL_DIR."""
    count = 0
    for path in sorted(settings.LOG_SPOOL_DIR.glob("*.pickle")):
        claimed = path.with_name(f"{path.name}.legacy")
        try:
            path.rename(claimed)  # another worker may be at it
            records = _LegacyUnpickler(io.BytesIO(claimed.read_bytes())).load()
        except FileNotFoundError:
            continue
        except Exception:
            log.exception("spool file %s cannot be read; set aside", path.name)
            claimed.rename(setaside.folder() / path.name) if setaside.ensure() else None
            continue
        entries = [prepare(r) for r in records]
        for entry in entries:
            entry.replayed = True
        if not write(entries):
            claimed.rename(path)
            return count
        claimed.unlink()
        count += len(entries)
    return count


class _LegacyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module == "gateway.capture" and name == "Record":
            module = "gateway.log.record"
        return super().find_class(module, name)


def _chunks(items: Iterable[Entry]) -> Iterator[list[Entry]]:
    chunk: list[Entry] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == settings.LOG_BATCH_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_legacy(path: Path) -> list:
    """The Records of an old spool or set-aside file (for replay_failed)."""
    return _LegacyUnpickler(io.BytesIO(path.read_bytes())).load()
