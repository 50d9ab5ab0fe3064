"""Django logs every 5xx answer at ERROR ("Internal Server Error: /v1/chat/completions"), as
if Iris had crashed. On /v1/ most are a provider's error passed on (its 500; a 502 or 504
when it cannot be reached in time): those are logged at WARNING, as upstream errors. Iris's
own faults keep ERROR: an exception Django caught carries its traceback, and one the request
path caught (gateway.service.internal_error, logged at ERROR there) marks its request."""

import contextvars
import logging

# Set when the request path logged a fault of its own (gateway.service logs at ERROR); read
# by the django.request record of the same request, in the same context.
_fault: contextvars.ContextVar[bool] = contextvars.ContextVar("iris_fault", default=False)


class OwnFaults(logging.Filter):
    """On gateway.service's logger: note that this request failed in Iris itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            _fault.set(True)
        return True


class UpstreamErrors(logging.Filter):
    """On django.request's logger: a /v1/ 5xx answer, no fault of Iris's, is a WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        path = getattr(request, "path", "") or ""
        status = getattr(record, "status_code", 0) or 0
        fault = _fault.get()
        if fault:
            _fault.set(False)
        if (
            record.levelno >= logging.ERROR
            and status >= 500
            and path.startswith("/v1/")
            and not record.exc_info
            and not fault
        ):
            record.levelno, record.levelname = (
                logging.WARNING,
                logging.getLevelName(logging.WARNING),
            )
            record.msg = "Upstream error passed on: %s %s answered %s (see the request log)"
            record.args = (getattr(request, "method", ""), path, status)
        return True


def install() -> None:
    """Add the two filters once (on import of gateway.log; idempotent)."""
    for name, kind in (("gateway.service", OwnFaults), ("django.request", UpstreamErrors)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
