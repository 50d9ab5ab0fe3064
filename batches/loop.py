"""The event loop bulk replays run on: one per process, in a daemon thread, started on first
use. Sync views (the logs UI), async views (the API) and Django's test server all hand their
batches to it; its aiohttp sessions are its own (gateway/http.py keeps them per loop)."""

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


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
    return asyncio.run_coroutine_threadsafe(coroutine, background_loop())
