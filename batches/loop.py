"""The event loop bulk replays run on: one per process, in a daemon thread, started on first
use. Sync views (the logs UI), async views (the API) and Django's test server all hand their
batches to it. Its aiohttp sessions (gateway/http.py keeps them per loop) are closed each
time it has no batch left, so none is left open when the process ends.

Each batch bounds its own replays in flight; gate() bounds them all together, so many
batches at once (50 from the API × 16 each) cannot put hundreds of replays in flight."""

import asyncio
import threading
import weakref
from collections.abc import Coroutine
from concurrent.futures import Future

from django.conf import settings

from gateway import http

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_active = 0  # batches running on the loop; only touched from the loop's thread
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, "Gate"] = weakref.WeakKeyDictionary()


class Gate:
    """A semaphore that says how many wait at it (what the bound is holding back)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.waiting = 0
        self._slots = asyncio.Semaphore(size)

    async def __aenter__(self) -> None:
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()


def gate() -> Gate:
    """The bound on replays in flight shared by every batch on the running loop (in the
    server, the one batches' loop of the process): GATEWAY_MAX_BATCH_CONCURRENCY."""
    running = asyncio.get_running_loop()
    if (shared := _gates.get(running)) is None:
        shared = _gates[running] = Gate(settings.GATEWAY_MAX_BATCH_CONCURRENCY)
    return shared


def background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_loop.run_forever, name="iris-batches", daemon=True)
            thread.start()
        return _loop


def submit(coroutine: Coroutine) -> Future:
    """Schedule the coroutine on the batches' loop; its Future tells when it ends."""
    return asyncio.run_coroutine_threadsafe(_tracked(coroutine), background_loop())


async def _tracked(coroutine: Coroutine) -> object:
    global _active
    _active += 1
    try:
        return await coroutine
    finally:
        _active -= 1
        if not _active:
            # This loop's sessions only: the server's own loop keeps its pool.
            # (gateway/http.py has no public way to close one loop's sessions.)
            sessions = http._sessions.pop(asyncio.get_running_loop(), {})
            for session in sessions.values():
                await session.close()
