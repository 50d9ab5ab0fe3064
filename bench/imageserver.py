"""A local image host for the URL scenarios: raw asyncio, HTTP/1.1 keep-alive, files held in
memory. `python bench/imageserver.py PORT DIR` serves DIR's files at /NAME.

GET /stats reports per file how many times it was fetched and the serve times in ms (from the
request's head read to the last byte taken by the socket), so the benchmark can tell whether
a gateway fetched a URL at all and how long a fetch took from the host's side. The socket's
send buffer is kept small (SEND_BUFFER) and nothing is buffered above it, so that time
follows the gateway's reading: it ends when all but the last SEND_BUFFER bytes are read.
GET /reset clears them. Serve times are kept in a ring of the last 10,000 per file.
"""

import asyncio
import collections
import json
import socket
import sys
import time
from pathlib import Path

KEEP = 10_000
SEND_BUFFER = 64 * 1024
CONTENT_TYPES = {".jpeg": "image/jpeg", ".jpg": "image/jpeg", ".png": "image/png"}

files: dict[str, tuple[bytes, str]] = {}
fetches: dict[str, collections.deque] = collections.defaultdict(
    lambda: collections.deque(maxlen=KEEP)
)
counts: collections.Counter = collections.Counter()


def head(status: str, length: int, content_type: str) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\n\r\n"
    ).encode()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    writer.transport.set_write_buffer_limits(high=0)
    try:
        while True:
            request = await reader.readuntil(b"\r\n\r\n")
            started = time.perf_counter()
            method, path, _ = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            name = path.lstrip("/").split("?", 1)[0]
            if path == "/stats":
                stats = {n: {"count": counts[n], "ms": list(fetches[n])} for n in counts}
                body = json.dumps(stats).encode()
                writer.write(head("200 OK", len(body), "application/json") + body)
            elif path == "/reset":
                counts.clear()
                fetches.clear()
                writer.write(head("200 OK", 2, "application/json") + b"{}")
            elif method in ("GET", "HEAD") and name in files:
                data, content_type = files[name]
                writer.write(head("200 OK", len(data), content_type))
                if method == "GET":
                    writer.write(data)
                await writer.drain()
                counts[name] += 1
                fetches[name].append(round((time.perf_counter() - started) * 1000, 3))
                continue
            else:
                writer.write(head("404 Not Found", 0, "text/plain"))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main(port: int, folder: Path) -> None:
    for path in folder.iterdir():
        if path.suffix in CONTENT_TYPES:
            files[path.name] = (path.read_bytes(), CONTENT_TYPES[path.suffix])
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2])))
