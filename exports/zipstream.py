"""A zip written as a stream of chunks: zipfile onto a sink that is never seeked.

zipfile writes to a file it cannot seek with data descriptors (the sizes and CRC after each
entry's data), so nothing has to be held back: each write goes to the sink, and the caller
takes the sink's bytes out whenever they pass CHUNK. Memory: one chunk, plus zlib's window.
"""

import io
import zipfile
from collections.abc import Iterable, Iterator
from time import localtime

CHUNK = 64 * 1024


class _Sink(io.RawIOBase):
    """Where zipfile writes; no tell() or seek(), so zipfile streams (see ZipFile.__init__)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.pending = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        self.pending += len(data)
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        self.pending = 0
        return out


class ZipStream:
    """Entries added one after another, each from an iterable of bytes; chunks come out of
    `add` and `finish` as the generators they are (`yield from stream.add(...)`)."""

    def __init__(self) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w")

    def add(
        self, name: str, pieces: Iterable[bytes], *, size: int | None = None, compress: bool = True
    ) -> Iterator[bytes]:
        """One entry. `size` (when known) lets zipfile skip zip64 for small files; an entry
        of unknown size is written as zip64, which every unzip of the last 20 years reads."""
        info = zipfile.ZipInfo(name, date_time=localtime()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        if size is not None:
            info.file_size = size
        with self._zip.open(info, "w", force_zip64=size is None) as entry:
            for piece in pieces:
                entry.write(piece)
                if self._sink.pending >= CHUNK:
                    yield self._sink.take()
        if self._sink.pending >= CHUNK:
            yield self._sink.take()

    def finish(self) -> Iterator[bytes]:
        """The central directory, and whatever was left in the sink."""
        self._zip.close()
        yield self._sink.take()
