"""Images of huge pixel counts in small files (a blank canvas compresses ~1000:1), written
row by row: neither this process nor the file needs the pixels in memory."""

import struct
import zlib
from collections.abc import Iterator


def _rows(width: int, height: int, prefix: bytes = b"") -> Iterator[bytes]:
    row = prefix + bytes(width)
    batch = max(1, (1 << 22) // len(row))  # ~4 MB of raw rows per compressor call
    for start in range(0, height, batch):
        yield row * min(batch, height - start)


def _deflate(width: int, height: int, prefix: bytes = b"") -> bytes:
    compressor = zlib.compressobj(9)
    out = [compressor.compress(rows) for rows in _rows(width, height, prefix)]
    return b"".join(out) + compressor.flush()


def huge_png(width: int, height: int) -> bytes:
    """A black 8-bit grayscale PNG (13000×13000 is about 170 KB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = _deflate(width, height, prefix=b"\x00")  # filter type 0 before each row
    step = 1 << 20
    idat = b"".join(chunk(b"IDAT", pixels[i : i + step]) for i in range(0, len(pixels), step))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idat + chunk(b"IEND", b"")


def huge_tiff(width: int, height: int) -> bytes:
    """A black 8-bit grayscale TIFF, one Deflate strip (a format providers refuse: converted)."""
    strip = _deflate(width, height)
    entries = [  # (tag, type: 3 SHORT / 4 LONG, value), in tag order
        (256, 4, width),
        (257, 4, height),
        (258, 3, 8),  # bits per sample
        (259, 3, 8),  # compression: Deflate
        (262, 3, 1),  # black is zero
        (273, 4, 8),  # the strip starts right after the header
        (277, 3, 1),  # samples per pixel
        (278, 4, height),  # rows per strip
        (279, 4, len(strip)),
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8 + len(strip)) + strip + ifd
