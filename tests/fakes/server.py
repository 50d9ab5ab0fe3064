"""A real HTTP server in a thread, for fake upstreams: each fake supplies a handle() function.

handle(request) returns a Reply. A Reply with `chunks` is streamed: each chunk is written and
flushed on its own (after `delay` seconds), and `die=True` drops the connection mid-stream.
"""

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Iterable[bytes] | None = None
    delay: float = 0.0
    die: bool = False  # stream: close the socket without finishing the response

    @classmethod
    def json(cls, status: int, data: object, **headers: str) -> "Reply":
        return cls(
            status, json.dumps(data).encode(), {"content-type": "application/json", **headers}
        )


class FakeServer:
    def __init__(self, handle: Callable[[Received], Reply]) -> None:
        self.handle = handle
        self.received: list[Received] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._serve()

            def do_POST(self) -> None:  # noqa: N802
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = Received(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                fake.received.append(request)
                reply = fake.handle(request)
                if reply.chunks is None:
                    time.sleep(reply.delay)
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for piece in reply.chunks:
                    time.sleep(reply.delay)
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                if reply.die:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # the default listen backlog of 5 refuses bursts

            def handle_error(self, request, client_address) -> None:
                pass  # clients that hang up early (size caps, timeouts) are expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def last(self, method: str | None = None) -> Received:
        """The latest request (of that method: URL-image fetches can land after a POST)."""
        return [r for r in self.received if method in (None, r.method)][-1]
