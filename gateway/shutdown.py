"""SIGTERM ends open streams cleanly: they get GATEWAY_SHUTDOWN_GRACE_SECONDS to finish, then
each waiting upstream read is interrupted, and the relay (gateway/proxy.py) ends its stream
with an error event and logs what it had relayed.

Why a hook on the signal itself: uvicorn answers SIGTERM by waiting for open connections (up
to its timeout_graceful_shutdown) and runs the ASGI lifespan shutdown only after they close,
then cancels whatever is left. A stream longer than that was cut without a record. install()
(called from the lifespan startup, in every worker process) chains onto the server's own
SIGTERM/SIGINT handlers, so the grace starts when the signal arrives; the server's handler
still runs as before.
"""

import asyncio
import logging
import signal
import threading
import weakref
from collections.abc import AsyncIterator
from typing import TypeVar

from django.conf import settings

from gateway import bodydeadline
from gateway.errors import GatewayError

log = logging.getLogger(__name__)

T = TypeVar("T")


class ShuttingDown(Exception):
    """The shutdown grace ran out while a stream was waiting for its upstream."""


class _Drain:
    """One event loop's shutdown state: when streams must end, and the reads waiting now."""

    def __init__(self) -> None:
        self.deadline: float | None = None  # loop.time() at which reads are interrupted
        self.reads: set[asyncio.Timeout] = set()
        self.streams = 0


_drains: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Drain]" = (
    weakref.WeakKeyDictionary()
)
_HANDLED = (signal.SIGTERM, signal.SIGINT)


def _drain(loop: asyncio.AbstractEventLoop) -> _Drain:
    drain = _drains.get(loop)
    if drain is None:
        drain = _drains[loop] = _Drain()
    return drain


def error() -> GatewayError:
    """The event that ends a stream cut by shutdown: OpenAI's shape, a 5xx type."""
    return GatewayError(
        503,
        "The gateway is shutting down; the stream ended before the upstream finished. "
        "Retry the request.",
        "server_error",
        code="gateway_shutting_down",
    )


def install() -> None:
    """Start the grace on SIGTERM/SIGINT in this process (ASGI lifespan startup)."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers belong to the main thread; a server that runs us elsewhere
    loop = asyncio.get_running_loop()
    for sig in _HANDLED:
        previous = signal.getsignal(sig)
        if not callable(previous) or getattr(previous, "iris_chained", False):
            continue  # no server handler to chain onto (the default ends the process anyway)

        def handler(signum: int, frame, previous=previous) -> None:
            begin(loop)
            previous(signum, frame)

        handler.iris_chained = True  # type: ignore[attr-defined]
        signal.signal(sig, handler)


def begin(loop: asyncio.AbstractEventLoop, grace: float | None = None) -> None:
    """Start the grace on that loop. Safe from a signal handler or another thread."""
    grace = settings.GATEWAY_SHUTDOWN_GRACE_SECONDS if grace is None else grace
    if not loop.is_closed():
        loop.call_soon_threadsafe(_begin, loop, grace)


def _begin(loop: asyncio.AbstractEventLoop, grace: float) -> None:
    drain = _drain(loop)
    if drain.deadline is not None:
        return  # a second signal does not extend (or shorten) the grace
    drain.deadline = loop.time() + max(grace, 0.0)
    for read in drain.reads:
        read.reschedule(drain.deadline)
    bodydeadline.cut_at(loop, grace)
    log.warning(
        "shutting down: %d open stream(s) have %.1f s to finish, then end with an error event",
        drain.streams,
        grace,
    )


async def until_shutdown(chunks: AsyncIterator[T]) -> AsyncIterator[T]:
    """The items of chunks; ShuttingDown when the grace has run out while waiting for one.

    Only the wait for the next item is bounded, never the caller's own work with it (a
    timeout around a `yield` would cancel whatever the caller awaits meanwhile)."""
    drain = _drain(asyncio.get_running_loop())
    drain.streams += 1
    try:
        while True:
            read = asyncio.timeout_at(drain.deadline)
            drain.reads.add(read)
            try:
                async with read:
                    item = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if read.expired():
                    raise ShuttingDown from None
                raise  # the upstream's own timeout
            finally:
                drain.reads.discard(read)
            yield item
    finally:
        drain.streams -= 1
