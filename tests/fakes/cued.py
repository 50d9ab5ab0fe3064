"""A fake provider that fails on cue: queued Replies (a 500, a 429 with retry-after, a delay
longer than a timeout) are served first, one per upstream call, then calls fall through to
the real fake handler (tests/fakes/openai.py, anthropic.py…), which keeps checking what it
receives. Every call is noted (path, model, monotonic time) so tests can assert the route a
config took and the gaps between retries.

    with cued_server(anthropic.handle) as fake:
        fake.cued.cue(Cued.error(500), Cued.error(429, **{"retry-after": "1"}))
        ...
        assert fake.cued.models() == ["claude-x", "claude-x", "claude-x"]
"""

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote

from tests.fakes.server import FakeServer, Received, Reply


@dataclass(frozen=True)
class Call:
    path: str
    model: str  # the body's "model", else the path's /model/<id>/ (Bedrock), else ""
    at: float  # time.monotonic() when the request arrived
    request: Received
    cued: bool  # answered from the queue, not by the real handler


class Cued:
    """A handler: the queue's replies first, then `handle`. Thread-safe (FakeServer is)."""

    def __init__(self, handle: Callable[[Received], Reply]) -> None:
        self.handle = handle
        self.queue: deque[Reply] = deque()
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def __call__(self, request: Received) -> Reply:
        arrived = time.monotonic()
        if request.method == "GET":  # image hosting (a URL image fetched), not a provider call
            return self.handle(request)
        with self._lock:
            reply = self.queue.popleft() if self.queue else None
            cued = reply is not None
            self.calls.append(Call(request.path, _model(request), arrived, request, cued))
        return reply if reply is not None else self.handle(request)

    def cue(self, *replies: Reply) -> "Cued":
        with self._lock:
            self.queue.extend(replies)
        return self

    def reset(self) -> None:
        with self._lock:
            self.queue.clear()
            self.calls.clear()

    def models(self) -> list[str]:
        return [c.model for c in self.calls]

    def gaps(self) -> list[float]:
        """Seconds between one call's arrival and the next's."""
        times = [c.at for c in self.calls]
        return [b - a for a, b in zip(times, times[1:], strict=False)]

    @staticmethod
    def error(status: int, message: str = "cued failure", **headers: str) -> Reply:
        """An error in OpenAI's shape (Iris reads the status; the body's words are logged)."""
        body = {"error": {"message": message, "type": "server_error", "code": None}}
        return Reply.json(status, body, **headers)

    @staticmethod
    def slow(seconds: float, then: Reply | None = None) -> Reply:
        """An answer after `seconds` (longer than a request_timeout, to make it fire)."""
        reply = then or Reply.json(200, {"error": {"message": "too late to matter"}})
        return Reply(reply.status, reply.body, reply.headers, delay=seconds)


def _model(request: Received) -> str:
    try:
        body = json.loads(request.body)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        return body["model"]
    parts = request.path.split("/")
    if "model" in parts and parts.index("model") + 1 < len(parts):
        return unquote(parts[parts.index("model") + 1])
    return ""


@contextmanager
def cued_server(handle: Callable[[Received], Reply]) -> Iterator[FakeServer]:
    """A FakeServer whose handler is a Cued around `handle` (as server.cued)."""
    cued = Cued(handle)
    with FakeServer(cued) as server:
        server.cued = cued
        yield server
