"""Work that grows with a body runs in a thread once the body is big: the event loop must
never work in proportion to a request or an image. Small ones stay inline (a hop ~50 µs)."""

import asyncio
from collections.abc import Callable
from typing import Any

from django.conf import settings

from gateway import malloc

# The threads that get the big bodies share one malloc arena (gateway/malloc.py): set before
# any of them starts, which importing this module (the request path does, at start-up) is.
if settings.configured:
    malloc.limit_arenas(settings.GATEWAY_MALLOC_ARENAS)


async def by_size(size: int, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs): in a thread when `size` bytes pass GATEWAY_THREAD_BODY_BYTES."""
    if size > settings.GATEWAY_THREAD_BODY_BYTES:
        return await asyncio.to_thread(fn, *args, **kwargs)
    return fn(*args, **kwargs)
