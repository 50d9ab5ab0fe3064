"""The request log: a Record per request, filled on the proxy path, written off it.

submit() never blocks and never raises. A single writer thread drains the queue in batches:
image bytes go to blob storage once per SHA-256, rows are bulk-inserted (gateway/logrows.py).
If the database is down or the queue is full, records are spooled to disk and replayed
later, so a log is never lost; drain() (called on SIGTERM through the ASGI lifespan, and
at exit) writes what is queued before the process ends.
"""

import asyncio
import atexit
import logging
import os
import pickle
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from gateway import fetching, logrows
from gateway.chat import Chat
from gateway.errors import GatewayError
from gateway.images import Image
from gateway.redact import redact_headers

log = logging.getLogger(__name__)


@dataclass
class Record:
    """Everything known about one request; plain data, cheap to build on the hot path."""

    path: str
    request_headers: dict
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: datetime = field(default_factory=timezone.now)
    started: float = field(default_factory=time.perf_counter)
    api_key_id: int | None = None
    provider: str = ""
    provider_slug: str = ""  # the admin's Provider record, when routed by `@slug`
    model: str = ""
    trace_id: str = ""
    metadata: dict = field(default_factory=dict)
    raw_body: bytes = b""
    chat: Chat | None = None
    upstream_url: str = ""
    upstream_body: dict | None = None  # the JSON sent upstream, when not the client's bytes
    status_code: int = 0
    response_body: dict | None = None
    error_type: str = ""
    error_message: str = ""
    is_stream: bool = False
    chunk_count: int = 0
    ttft_ms: float | None = None
    latency_ms: float | None = None
    usage: dict | None = None
    prompt: str = ""  # a request made through a saved prompt: its id, version and variables
    prompt_version: int | None = None
    prompt_variables: dict | None = None
    submitted: bool = False  # handed to the writer (see submit)
    # Stream assembly: text and tool calls per choice index.
    _choices: dict = field(default_factory=dict)
    _stream_head: dict = field(default_factory=dict)

    @classmethod
    def begin(cls, request) -> "Record":
        headers = request.headers
        return cls(
            path=request.path,
            request_headers=redact_headers(dict(headers)),
            trace_id=headers.get("x-portkey-trace-id", "")[:200],
        )

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def first_byte(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = self.elapsed_ms()

    def finish(self, status: int, body: dict | None) -> None:
        self.status_code = status
        self.response_body = body
        if body and isinstance(body.get("usage"), dict):
            self.usage = body["usage"]
        self.latency_ms = self.elapsed_ms()

    def fail(self, error: GatewayError) -> None:
        self.error_type = error.type
        self.error_message = error.message
        if not self.status_code:
            self.status_code = error.status
        if self.response_body is None:
            self.response_body = error.body()
        self.latency_ms = self.elapsed_ms()

    def client_gone(self) -> None:
        """The client hung up: mid-stream (the status stays 200) or before any answer (499,
        as nginx logs it)."""
        if not self.error_type:
            self.error_type, self.error_message = "client_disconnected", "Client went away."
        self.status_code = self.status_code or 499
        self.latency_ms = self.elapsed_ms()

    def add_chunk(self, chunk: dict) -> None:
        """Accumulate one streamed chunk (text, tool calls, finish reason, usage)."""
        self.chunk_count += 1
        if not self._stream_head:
            self._stream_head = {k: chunk.get(k) for k in ("id", "created", "model")}
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            state = self._choices.setdefault(
                choice.get("index", 0), {"content": [], "tool_calls": {}, "finish_reason": None}
            )
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self.ttft_ms is None:
                    self.ttft_ms = self.elapsed_ms()
                state["content"].append(delta["content"])
            for call in delta.get("tool_calls") or ():
                slot = state["tool_calls"].setdefault(
                    call.get("index", 0),
                    {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
                )
                slot["id"] = call.get("id") or slot["id"]
                fn = call.get("function") or {}
                slot["function"]["name"] += fn.get("name") or ""
                slot["function"]["arguments"] += fn.get("arguments") or ""
            if choice.get("finish_reason"):
                state["finish_reason"] = choice["finish_reason"]

    def assembled(self) -> dict:
        """The streamed reply put back together as one chat.completion."""
        choices = []
        for index, state in sorted(self._choices.items()):
            message: dict = {"role": "assistant", "content": "".join(state["content"]) or None}
            if state["tool_calls"]:
                message["tool_calls"] = [
                    state["tool_calls"][k] for k in sorted(state["tool_calls"])
                ]
            choices.append(
                {"index": index, "message": message, "finish_reason": state["finish_reason"]}
            )
        return {
            **self._stream_head,
            "object": "chat.completion",
            "choices": choices,
            "usage": self.usage,
        }


# --- the writer ------------------------------------------------------------------------

_STOP = object()
_PURGE_EVERY = 3600.0  # seconds between retention purges (LOG_RETENTION_DAYS)
_REPLAY_EVERY = 60.0  # seconds between attempts to write records spooled to disk


class Writer:
    """One background thread that owns all log writes."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=settings.LOG_QUEUE_SIZE)
        self.spooled = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, record: Record) -> None:
        self._ensure_started()
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            log.warning("log queue full (%d); spooling a record to disk", self.queue.maxsize)
            self._spool([record])

    def drain(self, timeout: float = 60.0) -> None:
        """Write everything queued, then stop the thread (a later put starts a new one)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        if backlog := self.queue.qsize():
            log.info("draining %d queued log records", backlog)
        self.queue.put(_STOP)
        thread.join(timeout)

    def flush(self) -> None:
        """Block until everything queued so far is written (tests, management commands)."""
        if self._thread is not None:
            self.queue.join()

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="iris-log-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        self._replay_spool()
        next_purge = time.monotonic() + 60
        next_replay = time.monotonic() + _REPLAY_EVERY
        while True:
            if time.monotonic() > next_purge:
                next_purge = time.monotonic() + _PURGE_EVERY
                self._purge()
            if time.monotonic() > next_replay:  # what a database outage left on disk
                next_replay = time.monotonic() + _REPLAY_EVERY
                self._replay_spool()
            try:
                batch = [self.queue.get(timeout=_REPLAY_EVERY)]
            except queue.Empty:
                continue
            # Linger a little to gather a batch: one row per transaction costs ~1 ms of
            # CPU (and GIL) per request, a batch of 200 ~0.15 ms a row (measured here).
            deadline = time.monotonic() + settings.LOG_FLUSH_SECONDS
            while len(batch) < settings.LOG_BATCH_SIZE and batch[-1] is not _STOP:
                try:
                    batch.append(self.queue.get(timeout=max(0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            records = [item for item in batch if item is not _STOP]
            if records:
                self._write(records)
            for _ in batch:
                self.queue.task_done()
            if stop:
                close_old_connections()
                return

    def _purge(self) -> None:
        from gateway.retention import purge

        try:
            close_old_connections()
            purge()
        except Exception:
            log.exception("log retention purge failed; retrying in an hour")

    def _write(self, records: list[Record]) -> None:
        for attempt in range(3):
            try:
                close_old_connections()
                logrows.save_batch(records)
                return
            except Exception:
                log.exception(
                    "writing %d log records failed (attempt %d)", len(records), attempt + 1
                )
                time.sleep(0.2 * (attempt + 1))
        if _database_up():
            self._write_one_by_one(records)
        else:
            self._spool(records)

    def _write_one_by_one(self, records: list[Record]) -> None:
        """The database answers, yet the batch fails: one record is at fault. Write all the
        others; set the bad ones aside (*.failed, never replayed) for a developer to look at."""
        failed = []
        for record in records:
            try:
                close_old_connections()
                logrows.save_batch([record])
            except Exception:
                log.exception("log record %s cannot be written; set aside", record.request_id)
                failed.append(record)
        if failed:
            self._spool(failed, suffix="failed")

    def _spool(self, records: list[Record], suffix: str = "pickle") -> None:
        spool = settings.LOG_SPOOL_DIR
        spool.mkdir(parents=True, exist_ok=True)
        path = spool / f"{time.time_ns()}-{uuid.uuid4().hex}.{suffix}"
        # Our own data, read back only by this process's code: pickle keeps Image bytes as-is.
        # Written aside, then renamed: a replay never reads a half-written file.
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(pickle.dumps(records))
        partial.replace(path)
        self.spooled += len(records)

    def _replay_spool(self) -> None:
        try:
            self._replay_files()
        except Exception:  # the writer thread must outlive any trouble with the folder
            log.exception("replaying spooled logs failed; retrying later")

    def _replay_files(self) -> None:
        """Write what a database outage left on disk. Every worker replays the same folder:
        each file is claimed by an atomic rename first, so only one of them writes it."""
        spool = settings.LOG_SPOOL_DIR
        for orphan in spool.glob("*.replaying") if spool.exists() else ():
            _release_if_abandoned(orphan)
        for path in sorted(spool.glob("*.pickle")) if spool.exists() else ():
            claimed = path.with_name(f"{path.name}.{os.getpid()}.replaying")
            try:
                path.rename(claimed)
            except OSError:  # another worker took it
                continue
            try:
                done = self._replay(claimed)
            except Exception:
                log.exception("replaying %s failed; it waits for the next replay", path.name)
                done = False
            if not done:
                claimed.rename(path)
                return

    def _replay(self, claimed: Path) -> bool:
        """Write one claimed file; False when the database is down (the file waits)."""
        try:
            records = pickle.loads(claimed.read_bytes())
        except Exception:
            log.exception("spooled log file %s cannot be read; set aside", claimed.name)
            claimed.rename(claimed.with_suffix(".failed"))
            return True
        try:
            close_old_connections()
            logrows.save_batch(records)
            log.info("replayed %d spooled log records from %s", len(records), claimed.name)
        except Exception:
            if not _database_up():
                log.warning("the database is down; spooled logs wait for the next replay")
                return False
            log.exception("replaying %s failed as a batch; record by record", claimed.name)
            self._write_one_by_one(records)
        claimed.unlink(missing_ok=True)
        return True


def _release_if_abandoned(claimed: Path) -> None:
    """A claim whose process is gone (killed mid-replay) goes back to the queue of files.
    Workers share one machine's spool folder, so a process id tells whether it lives."""
    name, pid, _ = claimed.name.rsplit(".", 2)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        claimed.replace(claimed.with_name(name))
    except (ValueError, OSError):  # not our naming, or alive under another user: leave it
        pass


def _database_up() -> bool:
    try:
        close_old_connections()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


writer = Writer()
atexit.register(writer.drain)

# URL images are snapshotted for the log in tasks off the response path; kept here so they
# are not garbage-collected mid-flight, and so shutdown can wait for them.
_pending: set[asyncio.Task] = set()


def submit(record: Record) -> None:
    """Hand a finished record to the writer, once. Never blocks, never raises."""
    if record.submitted:
        return
    record.submitted = True
    try:
        images = record.chat.images if record.chat else []
        missing = [
            img for img in images if img.origin == "url" and img.data is None and not img.error
        ]
        if missing and settings.GATEWAY_SNAPSHOT_URL_IMAGES:
            task = asyncio.get_running_loop().create_task(_snapshot_then_put(record, missing))
            _pending.add(task)
            task.add_done_callback(_pending.discard)
        else:
            writer.put(record)
    except Exception:
        log.exception("could not queue a log record")


async def _snapshot_then_put(record: Record, images: list[Image]) -> None:
    try:
        await asyncio.gather(*(fetching.fetch_image(img) for img in images))
    finally:
        writer.put(record)


async def drain() -> None:
    """Finish pending snapshots, then write every queued record (ASGI lifespan shutdown)."""
    if _pending:
        await asyncio.wait(list(_pending), timeout=settings.GATEWAY_IMAGE_FETCH_TIMEOUT + 5)
    await asyncio.to_thread(writer.drain)
