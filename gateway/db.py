"""Database calls from async code on the lean /v1/ handler."""

from collections.abc import Callable
from functools import wraps

from asgiref.sync import sync_to_async
from django.db import close_old_connections


def orm(fn: Callable) -> Callable:
    """Run fn in Django's sync thread, first closing stale connections — the job Django's
    request_started signal does, which the lean /v1/ handler does not send."""

    @wraps(fn)
    def fresh(*args, **kwargs):
        close_old_connections()
        return fn(*args, **kwargs)

    return sync_to_async(fresh)
