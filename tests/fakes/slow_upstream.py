"""An OpenAI-like upstream over raw sockets that answers slowly and counts the connections its
client (Iris) closed before the answer was done: a test can see an upstream request cancelled.

One request per connection (`connection: close`): a whole answer after `delay` seconds, or a
stream of `events` events one every `delay` seconds."""

import json
import select
import socket
import socketserver
import threading
import time

_ANSWER = json.dumps(
    {
        "id": "slow",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()


def _event(i: int) -> bytes:
    chunk = {
        "id": "slow",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": f"t{i} "}}],
    }
    piece = b"data: " + json.dumps(chunk).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(piece), piece)


def _read_request(sock: socket.socket) -> dict | None:
    data = b""
    while b"\r\n\r\n" not in data:
        if not (got := sock.recv(65536)):
            return None
        data += got
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += sock.recv(65536)
    return json.loads(body)


class SlowUpstream:
    def __init__(self, delay: float, events: int = 0) -> None:
        self.delay, self.events = delay, events
        self.requests = 0  # read in full
        self.closed_early = 0  # their client hung up before the answer was done
        self.finished = 0  # answered in full
        self.errors: list[str] = []
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    fake._serve(self.request)
                except Exception as exc:  # noqa: BLE001 - the test asserts on errors
                    fake.errors.append(repr(exc))

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        request = _read_request(sock)
        if request is None:
            return
        self.requests += 1
        if not request.get("stream"):
            if self._gone(sock, self.delay):
                return
            sock.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(_ANSWER), _ANSWER)
            )
            self.finished += 1
            return
        sock.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        for i in range(self.events):
            if self._gone(sock, self.delay):
                return
            try:
                sock.sendall(_event(i))
            except OSError:
                self.closed_early += 1
                return
        sock.sendall(b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n")
        self.finished += 1

    def _gone(self, sock: socket.socket, seconds: float) -> bool:
        """Wait `seconds`; True (and counted) if the client closed meanwhile."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if select.select([sock], [], [], left)[0]:
                try:
                    closed = sock.recv(65536) == b""
                except OSError:
                    closed = True
                if closed:
                    self.closed_early += 1
                    return True
        return False

    def __enter__(self) -> "SlowUpstream":
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
