"""How long a request body may take to arrive: GATEWAY_BODY_READ_SECONDS from the first wait.

A client that sends its headers and then its body a byte at a time (or never) would otherwise
hold its connection, its bytes and a task for as long as it likes: ASGI servers bound the
wait for headers and for the next request, not for a body. A timer per request would cost the
hot path a few µs; instead the bodies being read are kept in a dict, and one timer per event
loop, armed only while a body is being read, looks at them once a second and cancels the
readers past their deadline (so a deadline is kept to within a second).
"""

import asyncio
import time
import weakref

from django.conf import settings

from gateway.errors import GatewayError

_SWEEP_SECONDS = 1.0


class _Sweeper:
    """The bodies being read on one event loop, by the task reading each."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.reading: dict[asyncio.Task, float] = {}
        self.expired: set[asyncio.Task] = set()
        self.armed = False
        self.shutdown_at: float | None = None  # SIGTERM: no body is waited for past the grace

    def sweep(self) -> None:
        now = time.monotonic()
        for task, deadline in list(self.reading.items()):
            if deadline <= now:
                del self.reading[task]
                self.expired.add(task)
                task.cancel()
        self.armed = bool(self.reading)
        if self.armed:
            self.loop.call_later(_SWEEP_SECONDS, self.sweep)


_sweepers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sweeper]" = (
    weakref.WeakKeyDictionary()
)


# The last loop's sweeper (a process serves from one loop), weakly: a closed loop goes.
_last: "weakref.ref[_Sweeper] | None" = None


class Deadline:
    """Around the reading of one body by `task` (the current one unless given):
    `with Deadline() as deadline:` ... and, on CancelledError, `deadline.passed()` tells the
    sweeper's cancellation from any other."""

    __slots__ = ("sweeper", "task")

    def __init__(self, task: asyncio.Task | None = None) -> None:
        self.task = task

    def __enter__(self) -> "Deadline":
        global _last
        loop = asyncio.get_running_loop()
        sweeper = _last() if _last is not None else None
        if sweeper is None or sweeper.loop is not loop:
            sweeper = _sweepers.get(loop)
            if sweeper is None:
                sweeper = _sweepers[loop] = _Sweeper(loop)
            _last = weakref.ref(sweeper)
        self.sweeper = sweeper
        if self.task is None:
            self.task = asyncio.current_task()
        deadline = time.monotonic() + settings.GATEWAY_BODY_READ_SECONDS
        if sweeper.shutdown_at is not None:
            deadline = min(deadline, sweeper.shutdown_at)
        sweeper.reading[self.task] = deadline
        if not sweeper.armed:
            sweeper.armed = True
            loop.call_later(_SWEEP_SECONDS, sweeper.sweep)
        return self

    def __exit__(self, *exc_info) -> None:
        self.sweeper.reading.pop(self.task, None)
        self.sweeper.expired.discard(self.task)

    def passed(self) -> bool:
        """Was the reader cancelled for its deadline (and for nothing else)? If so the
        cancellation is taken back."""
        if self.task not in self.sweeper.expired:
            return False
        self.sweeper.expired.discard(self.task)
        return self.task.uncancel() == 0  # else someone else cancelled it too: that one stands

    def error(self) -> GatewayError:
        """What a body cut off by its deadline is answered (and logged) with."""
        if self.sweeper.shutdown_at is not None:
            return GatewayError(
                503,
                "The gateway is shutting down; the request body had not finished arriving. "
                "Retry the request.",
                "server_error",
                code="gateway_shutting_down",
            )
        seconds = settings.GATEWAY_BODY_READ_SECONDS
        return GatewayError(
            408,
            f"The request body did not arrive within {seconds:g} s (GATEWAY_BODY_READ_SECONDS).",
            code="request_timeout",
        )


def cut_at(loop: asyncio.AbstractEventLoop, grace: float) -> None:
    """SIGTERM (gateway/shutdown.py): bodies still arriving at the end of the grace are cut
    then (within the sweeper's second) and answered 503, rather than held until the server
    cancels them unanswered."""
    sweeper = _sweepers.get(loop)
    if sweeper is None:
        sweeper = _sweepers[loop] = _Sweeper(loop)
    sweeper.shutdown_at = time.monotonic() + max(grace, 0.0)
    for task, deadline in sweeper.reading.items():
        sweeper.reading[task] = min(deadline, sweeper.shutdown_at)
