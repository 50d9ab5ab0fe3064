"""How many records a killed process had not yet made safe: counted, never silent.

By default an answer does not wait for its record to reach the journal
(LOG_JOURNAL_BEFORE_ANSWER is off: waiting costs ~12 % of small requests' throughput), so a
SIGKILL loses the records of the last LOG_FSYNC_SECONDS or so. Each process therefore counts,
in a 16-byte file of its journal folder mapped into memory, the records handed to its writer
and the records made safe (appended to the journal, or written to the database without it).
The kernel keeps a mapped page's writes when the process dies, so whoever replays the folder
reads both counts: the difference is how many were lost. It is logged as an ERROR and kept
under LOG_SPOOL_DIR/lost/ (one small file per dead process), counted in /healthz
(`lost_when_killed`) and on the logs UI's banner until a developer clears it
(`manage.py replay_failed --forget-lost`).
"""

import contextlib
import logging
import mmap
import os
import struct
import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson
from django.conf import settings

log = logging.getLogger(__name__)

FILE = "tally"
_COUNT = struct.Struct("<Q")
_PUT, _SAFE = 0, _COUNT.size
_SIZE = 2 * _COUNT.size


class Tally:
    """The two counters of one live process, in its journal folder."""

    def __init__(self, folder: Path) -> None:
        fd = os.open(folder / FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.ftruncate(fd, _SIZE)
            self._map: mmap.mmap | None = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)  # the mapping keeps the file
        self.put = self.safe = 0
        self._lock = threading.Lock()

    def count_put(self) -> None:
        """A record handed to the writer."""
        self._add(_PUT, 1)

    def count_safe(self, n: int) -> None:
        """Records appended to the journal, set aside, or written without it (any thread)."""
        if n:
            self._add(_SAFE, n)

    def _add(self, offset: int, n: int) -> None:
        # Several threads count (the loop, the journal and database threads, a drain): a lock
        # keeps each sum whole. After close() (a drain) counting is a no-op, never an error:
        # put() must not raise.
        with self._lock:
            if self._map is None:
                return
            if offset == _PUT:
                self.put += n
                _COUNT.pack_into(self._map, _PUT, self.put)
            else:
                self.safe += n
                _COUNT.pack_into(self._map, _SAFE, self.safe)

    def close(self) -> None:
        with self._lock:
            if self._map is not None:
                with contextlib.suppress(ValueError, OSError):
                    self._map.close()
                self._map = None


def unsafe_in(folder: Path) -> int:
    """Records a dead process was handed and never made safe (0 without a tally file)."""
    try:
        data = (folder / FILE).read_bytes()
    except OSError:
        return 0
    if len(data) != _SIZE:
        return 0
    put, safe = _COUNT.unpack_from(data, _PUT)[0], _COUNT.unpack_from(data, _SAFE)[0]
    return max(0, put - safe)


def account_for(folder: Path) -> int:
    """Count what a dead process's folder says was lost, before the folder goes."""
    lost = unsafe_in(folder)
    if not lost:
        return 0
    log.error(
        "%d log record(s) were lost: the process behind journal %s was killed before it "
        "journaled them (LOG_JOURNAL_BEFORE_ANSWER=1 makes answers wait for the journal)",
        lost,
        folder.name,
    )
    when = datetime.fromtimestamp((folder / FILE).stat().st_mtime, UTC)
    note = {"lost": lost, "journal": folder.name, "last_counted_at": when.isoformat()}
    try:
        lost_folder().mkdir(parents=True, exist_ok=True)
        partial = lost_folder() / f"{folder.name}.partial"
        partial.write_bytes(orjson.dumps(note))
        partial.replace(lost_folder() / f"{folder.name}.json")
    except OSError:
        log.exception("could not keep the count of lost log records")
    return lost


def lost_folder() -> Path:
    return settings.LOG_SPOOL_DIR / "lost"


def lost_total() -> int:
    """Records lost to kills, as counted by the replays since a developer last cleared them."""
    total = 0
    with contextlib.suppress(OSError):
        for path in lost_folder().glob("*.json"):
            with contextlib.suppress(OSError, orjson.JSONDecodeError, TypeError, KeyError):
                total += int(orjson.loads(path.read_bytes())["lost"])
    return total


def forget_lost() -> int:
    """Clear the counts (a developer has seen them); returns how many were cleared."""
    cleared = lost_total()
    with contextlib.suppress(OSError):
        for path in lost_folder().glob("*.json"):
            path.unlink(missing_ok=True)
    return cleared
