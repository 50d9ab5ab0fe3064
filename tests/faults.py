"""Real faults made from outside a real Iris, for tests/api/test_log_{faults,outages,sigkill}.py and
bench/log_faults.py: a small tmpfs, a folder turned read-only, a held SQLite write lock, and
bursts of requests whose every answer (status, x-iris-request-id, arrival time) is kept, so
that each answered request can be looked for in the log afterwards."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

from tests.conftest import SHARED_IMAGES, IrisServer


class FaultUnavailable(Exception):
    """This machine cannot make the fault (not root, no mount): the caller skips."""


# --- disks ---------------------------------------------------------------------------------


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True)


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at path for the block; unmounted whatever happens."""
    if os.geteuid() != 0:
        raise FaultUnavailable("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    mounted = _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    if mounted.returncode:
        raise FaultUnavailable(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        if _run("umount", str(path)).returncode:
            _run("umount", "-l", str(path))  # a process still holds a file: detach it


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make the folder read-only for every file opened in it from now on.

    `mount -o remount,ro` is refused (EBUSY) while a process holds a file there open for
    writing, as a server holds its SQLite database. A read-only bind mount of the folder over
    itself is not: files opened before keep their writable mount, new opens get EROFS. So
    the server must open its database afresh for each use (DATABASE_CONN_MAX_AGE=0)."""
    if os.geteuid() != 0:
        raise FaultUnavailable("bind mounts need root")
    bound = _run("mount", "--bind", str(path), str(path))
    if bound.returncode:
        raise FaultUnavailable(f"cannot bind-mount {path}: {bound.stderr.strip()}")
    made = _run("mount", "-o", "remount,bind,ro", str(path))
    if made.returncode:
        _run("umount", str(path))
        raise FaultUnavailable(f"cannot make {path} read-only: {made.stderr.strip()}")
    try:
        yield
    finally:
        if _run("umount", str(path)).returncode:
            _run("umount", "-l", str(path))


def fill(folder: Path, leave: int) -> Path:
    """Fill the folder's file system with one file until about `leave` bytes are free."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    filler = folder / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


@contextlib.contextmanager
def write_locked(database: Path) -> Iterator[sqlite3.Connection]:
    """Another process's view of a busy database: the SQLite write lock held for the block."""
    lock = sqlite3.connect(database, isolation_level=None, timeout=30)
    lock.execute("BEGIN IMMEDIATE")
    try:
        yield lock
    finally:
        lock.execute("COMMIT")
        lock.close()


# --- requests ------------------------------------------------------------------------------


def photo_variants(count: int, name: str = "rocket.jpg", seed: int = 0) -> list[bytes]:
    """`count` distinct JPEGs of a real photo (one pixel differs), so none shares a blob."""
    photo = Image.open(SHARED_IMAGES / name).convert("RGB")
    variants = []
    for i in range(count):
        copy = photo.copy()
        n = seed * 1_000_003 + i
        copy.putpixel((n % copy.width, n // copy.width % copy.height), (n % 251, 7, 99))
        out = io.BytesIO()
        copy.save(out, "JPEG", quality=90)
        variants.append(out.getvalue())
    return variants


def image_body(image: bytes, text: str) -> dict:
    uri = "data:image/jpeg;base64," + base64.b64encode(image).decode()
    content = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": uri}}]
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}


def nested_body(depth: int, marker: str) -> bytes:
    """A valid chat body with one extra field nested `depth` objects deep."""
    extra = '{"a":' * depth + "1" + "}" * depth
    head = '{"model":"gpt-4o","messages":[{"role":"user","content":"' + marker + '"}]'
    return f'{head},"extra":{extra}}}'.encode()


def text_body(i: int) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": f"request {i}"}]}


def proxy_headers(server: IrisServer, upstream: str, trace: str) -> dict[str, str]:
    return server.headers(
        **{
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream,
            "authorization": "Bearer sk-x",
            "x-portkey-trace-id": trace,
        }
    )


@dataclass
class Answer:
    index: int
    status: int | None  # None: no answer (the server died, the connection broke)
    request_id: str
    sent_at: float  # time.monotonic() on the client
    at: float  # when the whole answer had arrived
    error: str = ""

    @property
    def latency(self) -> float:
        return self.at - self.sent_at


@dataclass
class Burst:
    """Requests sent at a pace, `concurrency` at most in flight; each answer is kept."""

    server: IrisServer
    upstream: str
    trace: str
    concurrency: int = 16
    rate: float | None = None  # requests per second; None: as fast as answers come
    on_answer: Callable[[Answer], None] | None = None
    answers: list[Answer] = field(default_factory=list)

    async def run(self, bodies: list[dict]) -> list[Answer]:
        headers = proxy_headers(self.server, self.upstream, self.trace)
        limits = httpx.Limits(max_connections=self.concurrency)
        gate = asyncio.Semaphore(self.concurrency)
        start = time.monotonic()
        async with httpx.AsyncClient(limits=limits, timeout=120, headers=headers) as client:

            async def one(i: int, body: dict) -> None:
                async with gate:
                    sent = time.monotonic()
                    try:
                        r = await client.post(f"{self.server.url}/v1/chat/completions", json=body)
                        answer = Answer(
                            i, r.status_code, r.headers.get("x-iris-request-id", ""), sent,
                            time.monotonic(),
                        )  # fmt: skip
                    except httpx.HTTPError as exc:
                        answer = Answer(i, None, "", sent, time.monotonic(), repr(exc))
                self.answers.append(answer)
                if self.on_answer:
                    self.on_answer(answer)

            tasks = []
            for i, body in enumerate(bodies):
                if self.rate:
                    await asyncio.sleep(max(0.0, start + i / self.rate - time.monotonic()))
                tasks.append(asyncio.create_task(one(i, body)))
            await asyncio.gather(*tasks)
        return sorted(self.answers, key=lambda a: a.index)


# --- what the server tells -----------------------------------------------------------------


def logged_request_ids(server: IrisServer, trace: str) -> set[str]:
    """The request ids of every record with this trace id (the logs API, all pages)."""
    found, cursor = set(), None
    while True:
        params = {"trace_id": trace, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = server.logs(**params)
        found |= {row["request_id"] for row in page["data"]}
        if not page["has_more"]:
            return found
        cursor = page["next_cursor"]


def wait_until_logged(server: IrisServer, trace: str, wanted: set[str], timeout: float) -> set[str]:
    """Poll the logs API until every wanted request id is logged or the time is up; the
    ones still missing."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            missing = wanted - logged_request_ids(server, trace)
        except httpx.HTTPError:
            missing = set(wanted)
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.25)


def healthz(server: IrisServer) -> tuple[int, dict]:
    response = httpx.get(f"{server.url}/healthz", timeout=30)
    return response.status_code, response.json()


class HealthWatch:
    """Polls /healthz in a thread while a fault runs: every (time, status, log_writer) seen."""

    def __init__(self, server: IrisServer, every: float = 0.2) -> None:
        self.server, self.every = server, every
        self.seen: list[tuple[float, int, dict]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(httpx.HTTPError, ValueError):
                status, body = healthz(self.server)
                self.seen.append((time.monotonic(), status, body.get("log_writer") or {}))
            self._stop.wait(self.every)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(35)

    @property
    def statuses(self) -> list[int]:
        return [status for _, status, _ in self.seen]

    def max(self, name: str) -> int | float:
        return max((log.get(name) or 0 for _, _, log in self.seen), default=0)


def wait_healthy(server: IrisServer, timeout: float) -> tuple[int, dict]:
    deadline = time.monotonic() + timeout
    while True:
        status, body = healthz(server)
        if status == 200 or time.monotonic() > deadline:
            return status, body
        time.sleep(0.2)


@dataclass
class Window:
    """When a fault held, on the client's clock."""

    start: float = 0.0
    end: float = 0.0

    def covers(self, answer: Answer) -> bool:
        """The request was in flight at some point while the fault held."""
        return answer.sent_at < self.end and answer.at > self.start


async def hold(fault: Callable[[], contextlib.AbstractContextManager], after: float,
               seconds: float) -> Window:  # fmt: skip
    """Make the fault `after` seconds from now and keep it `seconds`, inside a burst."""
    window = Window()
    await asyncio.sleep(after)
    with fault():
        window.start = time.monotonic()
        await asyncio.sleep(seconds)
    window.end = time.monotonic()
    return window


def sqlite_count(database: Path, sql: str) -> int:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return db.execute(sql).fetchone()[0]


def wait_for(predicate: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not (ok := predicate()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return bool(ok)


def stop(server: IrisServer, timeout: float = 30) -> None:
    """SIGTERM; SIGKILL if it does not exit in time (a mount under it must be let go)."""
    try:
        server.stop(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)
        raise AssertionError(f"the server did not exit within {timeout} s of SIGTERM")  # noqa: B904


def leave_mid_stream(port: int, path: str, headers: dict, body: bytes, until: bytes) -> str:
    """POST over a raw socket, read the streamed answer until `until` arrives, then hang up
    (a client that leaves mid-way). Returns the answer's x-iris-request-id."""
    request = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        seen = b""
        while until not in seen:
            seen += sock.recv(65536)
    return next(
        line.split(b":", 1)[1].strip().decode()
        for line in seen.split(b"\r\n")
        if line.lower().startswith(b"x-iris-request-id")
    )
