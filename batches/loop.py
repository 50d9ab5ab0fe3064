"""The event loop bulk replays run on: one per process, in a daemon thread, started on first
use. Sync views (the logs UI), async views (the API) and Django's test server all hand their
batches to it. Its aiohttp sessions (gateway/http.py keeps them per loop) are closed each
time it has no batch left, so none is left open when the process ends."""

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future

from gateway import http

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_active = 0  # batches running on the loop; only touched from the loop's thread


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
