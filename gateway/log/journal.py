"""The write-ahead journal: entries appended to disk in batches, before the database sees them.

Each process appends to segment files in a folder of its own under LOG_SPOOL_DIR/journal/,
holding an exclusive flock on the folder's lock file while it lives. The kernel drops that
lock when the process dies, however it dies (SIGKILL, the OOM killer), so any process can
tell a dead writer's folder from a live one and replay it: no pid files, no pid reuse.

A segment is a run of records, each a header (the data's length, flags, the request id)
and the Entry: as JSON (flag JSON) when JSON keeps it as it is, else pickled. A segment is
deleted once every entry in it is in the database.
A *provisional* entry (a record journaled before its URL images were fetched) is never
written while its process lives; a replay writes it only if its final entry is missing.
Reading stops at a torn tail (a kill mid-append), so a segment is always readable. Pickle:
our own data, written and read only by this code, keeps image bytes as they are; JSON costs
a small entry a fifth of pickle's CPU (Entry.as_json).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pickle
import shutil
import struct
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gateway.log.entry import Entry

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">IB32s")  # data length, flags, request id
PROVISIONAL = 1
JSON = 2  # the entry as Entry.as_json() wrote it; else a pickle
_SEGMENT_BYTES = 32 * 1024 * 1024  # a new segment after this many bytes


@dataclass
class Segment:
    path: Path
    size: int = 0
    outstanding: int = 0  # entries in it not yet in the database
    closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def written(self, count: int = 1) -> None:
        """Entries of this segment reached the database; delete it once all have."""
        with self._lock:
            self.outstanding -= count
            done = self.closed and self.outstanding <= 0
        if done:
            self.path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            done = self.outstanding <= 0
        if done:
            self.path.unlink(missing_ok=True)


@dataclass
class Slot:
    """Where one entry sits on disk."""

    segment: Segment
    offset: int
    length: int
    flags: int = 0

    def load(self) -> Entry:
        with open(self.segment.path, "rb") as f:
            f.seek(self.offset + _HEADER.size)
            return decode(f.read(self.length), self.flags)


def encode(entry: Entry) -> tuple[bytes, int]:
    """(data, flags) of an entry as the journal keeps it."""
    data = entry.as_json()
    if data is not None:
        return data, JSON
    return pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL), 0


def decode(data: bytes, flags: int) -> Entry:
    return Entry.from_json(data) if flags & JSON else pickle.loads(data)


class Journal:
    def __init__(self, root: Path) -> None:
        self.root = root / "journal"
        self.folder: Path | None = None
        self._lock_file = None
        self._fd: int | None = None
        self.segment: Segment | None = None
        self._seq = 0

    # --- appending (the journal thread) ---------------------------------------------------

    def append(self, entries: list[Entry], provisional: list[bool] | None = None) -> list[Slot]:
        """Append the entries and fsync once; raise OSError (disk full...) with the segment
        left as it was before the call."""
        flags = [PROVISIONAL if p else 0 for p in provisional or [False] * len(entries)]
        if self.segment is None or self.segment.size > _SEGMENT_BYTES:
            self._new_segment()
        segment, fd = self.segment, self._fd
        assert segment is not None and fd is not None
        chunks, slots, offset = [], [], segment.size
        for entry, flag in zip(entries, flags, strict=True):
            data, kind = encode(entry)
            flag |= kind
            chunks += (_HEADER.pack(len(data), flag, entry.request_id.encode()[:32]), data)
            slots.append(Slot(segment, offset, len(data), flag))
            offset += _HEADER.size + len(data)
        try:
            _write_all(fd, chunks)
            os.fdatasync(fd)
        except OSError:
            self._abandon_segment()
            raise
        with segment._lock:
            segment.outstanding += len(slots)
        segment.size = offset
        return slots

    def rotate(self) -> None:
        """Close the open segment (it is deleted once its entries are written)."""
        if self.segment is not None:
            os.close(self._fd)
            self.segment.close()
            self.segment, self._fd = None, None

    def _new_segment(self) -> None:
        self.rotate()
        if self.folder is None:
            self._open_folder()
        self._seq += 1
        path = self.folder / f"{self._seq:08d}.seg"
        # A plain descriptor, no buffer: a failed write leaves nothing pending to flush later.
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.segment = Segment(path)

    def _abandon_segment(self) -> None:
        """A failed append may have left part of a record: cut it off, start afresh later."""
        segment, fd = self.segment, self._fd
        self.segment, self._fd = None, None
        with contextlib.suppress(OSError):  # else the torn tail is skipped when read back
            os.ftruncate(fd, segment.size)  # gives the space back now: the disk is full
        os.close(fd)  # an unlinked file's space is freed only once no descriptor holds it
        segment.close()

    def open(self) -> Path:
        """The process's folder, created and locked now if it is not yet (the tally lives in
        it from the start: gateway/log/tally.py)."""
        if self.folder is None:
            self._open_folder()
        assert self.folder is not None
        return self.folder

    def _open_folder(self) -> None:
        # Locked before it gets its name: no other process sees it unlocked, taking it for a
        # dead one's.
        name = uuid.uuid4().hex
        hidden = self.root / f".{name}"
        hidden.mkdir(parents=True)
        lock_file = open(hidden / ".lock", "w")  # noqa: SIM115 - held for the process's life
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        folder = hidden.rename(self.root / name)
        self.folder, self._lock_file = folder, lock_file

    def close(self) -> None:
        """Stop appending; what is not written stays on disk for the next start."""
        self.rotate()
        if self._lock_file is not None:
            folder = self.folder
            if folder is not None and not any(folder.glob("*.seg")):
                shutil.rmtree(folder, ignore_errors=True)
            self._lock_file.close()
        self.folder, self._lock_file = None, None

    # --- replaying what dead processes left ----------------------------------------------

    def abandoned(self) -> Iterator[Path]:
        """Folders whose process is gone, each yielded while this process holds its lock."""
        if not self.root.exists():
            return
        for folder in sorted(self.root.iterdir()):
            if folder == self.folder or folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                lock_file = open(folder / ".lock", "a")  # noqa: SIM115
            except OSError:
                continue
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # alive, or being replayed by another process
                lock_file.close()
                continue
            try:
                yield folder
            finally:
                lock_file.close()

    @staticmethod
    def backlog_bytes(root: Path) -> int:
        total = 0
        for path in (root / "journal").glob("*/*.seg"):
            with contextlib.suppress(FileNotFoundError):  # written meanwhile, and deleted
                total += path.stat().st_size
        return total


_IOV_MAX = min(1024, os.sysconf("SC_IOV_MAX"))


def _write_all(fd: int, chunks: list[bytes]) -> None:
    """The chunks written in order, one writev per _IOV_MAX of them (two write calls per
    entry were a fifth of the journal thread's time); a short write is finished chunk by
    chunk."""
    for start in range(0, len(chunks), _IOV_MAX):
        group = chunks[start : start + _IOV_MAX]
        written = os.writev(fd, group)
        for chunk in group:
            if written >= len(chunk):
                written -= len(chunk)
                continue
            view, written = memoryview(chunk)[written:], 0
            while view:
                view = view[os.write(fd, view) :]


def final_ids(folder: Path) -> set[str]:
    """The request ids of a folder's final (not provisional) entries, from the headers."""
    found = set()
    for path in folder.glob("*.seg"):
        for _, flags, request_id, _ in _records(path, load=False):
            if not flags & PROVISIONAL:
                found.add(request_id)
    return found


class Unreadable(list):
    """The entries of a segment that could not be read back (their pickles, as bytes)."""


def read_segment(path: Path, finals: set[str], unreadable: Unreadable) -> Iterator[Entry]:
    """The entries to write from a dead process's segment: its final ones, and a provisional
    one whose final never made it (degraded: its URL images had not been fetched). Stops at a
    torn tail; an entry that does not unpickle goes to `unreadable` and the rest is read."""
    for _, flags, request_id, data in _records(path, load=True):
        if flags & PROVISIONAL and request_id in finals:
            continue
        try:
            entry = decode(data, flags)
        except Exception:
            log.exception("an entry of journal %s cannot be read; set aside", path)
            unreadable.append(data)
            continue
        entry.replayed = True
        if flags & PROVISIONAL:
            entry.with_reason("written from the journal before its URL images were fetched")
        yield entry


def _records(path: Path, *, load: bool) -> Iterator[tuple[int, int, str, bytes]]:
    with open(path, "rb") as f:
        while header := f.read(_HEADER.size):
            if len(header) < _HEADER.size:
                return
            length, flags, request_id = _HEADER.unpack(header)
            if load:
                data = f.read(length)
                if len(data) < length:
                    log.warning("journal %s ends in a torn record (a kill mid-append)", path)
                    return
            else:
                data = b""
                f.seek(length, os.SEEK_CUR)
            yield length, flags, request_id.rstrip(b"\0").decode(), data
