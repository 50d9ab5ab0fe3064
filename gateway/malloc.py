"""glibc's malloc, told how many arenas to keep (M_ARENA_MAX), from inside the process.

Each thread that allocates gets an arena of its own (up to 8 per core), and an arena keeps the
pages of its biggest moment: with megabyte bodies passing through the event loop, the parse
threads and the log writer's, the peak RSS grows with the number of threads, and memory freed
in one arena is faulted in afresh by the next. Measured with bench/image_stages.py (1.37 MB
image bodies, 8 clients): one arena cut the page faults per request from 321 to 36, and the
peak RSS from ~190 MB to ~156 MB. Must run before the threads start (gateway/offload.py does it
on import, which the ASGI app reaches before serving)."""

import ctypes
import os

M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_arenas(count: int) -> bool:
    """At most `count` arenas for threads created from now on; False where it cannot be set
    (not glibc, count <= 0, or the operator's MALLOC_ARENA_MAX already decides)."""
    if count <= 0 or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on
    except (OSError, AttributeError):  # musl, macOS: no mallopt, or not this option
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(M_ARENA_MAX, count) == 1
