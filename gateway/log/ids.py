"""Request ids: 128 random bits as 32 hex digits, as uuid4().hex gave, from a pool.

uuid4() asks the kernel for 16 bytes on every request, and os.urandom lets go of the GIL for
that syscall: on a busy process the log writer's threads take it, and the event loop waits
for it back (py-spy put ~6 % of the loop's samples there). One urandom call per 256 ids
keeps the ids as unpredictable (the kernel's CSPRNG) with 1/256 of the hand-offs."""

import os
import threading

_IDS_PER_REFILL = 256
_lock = threading.Lock()
_pool: list[str] = []


def new_id() -> str:
    with _lock:
        if not _pool:
            random = os.urandom(16 * _IDS_PER_REFILL).hex()
            _pool.extend(random[i : i + 32] for i in range(0, len(random), 32))
        return _pool.pop()


def _forget_after_fork() -> None:
    """A forked child must not hand out ids its parent will hand out too."""
    global _lock
    _lock = threading.Lock()
    _pool.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
