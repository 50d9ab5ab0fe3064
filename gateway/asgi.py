"""The ASGI entry point: Django, a lean handler for /v1/, and the lifespan that drains logs.

Django's ASGIHandler refuses "lifespan" scopes, so this wrapper answers them itself: on
shutdown (SIGTERM under uvicorn) it writes every queued log record before the process ends.
"""

import asyncio
import contextlib
import gc
import os
import sys
import tempfile

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

import django  # noqa: E402

django.setup(set_prefix=False)

# The log writer is a thread: while it builds a batch it holds the GIL, and by default the
# event loop waits up to 5 ms to get it back. 0.5 ms keeps proxy latency low (bench/run.py).
sys.setswitchinterval(0.0005)

from asgiref.sync import sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.exceptions import DisallowedHost, RequestAborted  # noqa: E402
from django.core.handlers.asgi import ASGIHandler, get_script_prefix  # noqa: E402
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402
from django.http import FileResponse  # noqa: E402
from django.urls import Resolver404, resolve, set_script_prefix  # noqa: E402

from gateway import bodydeadline, fastpath, http, replicas, shutdown  # noqa: E402
from gateway import log as request_log  # noqa: E402
from gateway.errors import GatewayError  # noqa: E402
from gateway.lagprobe import LagProbe  # noqa: E402

_DISALLOWED_HOST = GatewayError(
    400,
    "The Host header names a host this gateway does not serve (see ALLOWED_HOSTS).",
    code="disallowed_host",
)


class ApiHandler(ASGIHandler):
    """Django for /v1/, lean: no middleware (machines need no sessions, CSRF or messages),
    no per-request ThreadSensitiveContext and no request_started/finished signals — each of
    those costs a thread hop, and the context even a new thread, on every proxied request.
    Views reached from here clean up their own database connections (gateway/db.py). It also
    stops buffering a body past GATEWAY_MAX_BODY_BYTES, so an oversized upload costs no disk."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response_async)

    async def __call__(self, scope, receive, send) -> None:
        unread = None
        try:
            body_file = await self.read_body(receive)
        except _Unread as exc:  # a deadline, SIGTERM or a hang-up cut the body short
            body_file, unread = exc.body, exc
        with body_file:
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                await self.send_response(error_response, send)
                return
            try:  # ALLOWED_HOSTS, as CommonMiddleware checks it for the pages
                request.get_host()
            except DisallowedHost:
                await self.send_response(_DISALLOWED_HOST.response(), send)
                return
            request.urlconf = "gateway.api_urls"
            if unread is not None:
                await self._answer_unread(request, unread.error, send)
                return
            # As Django does: a client that hangs up cancels the view (and its stream).
            respond = asyncio.ensure_future(self._respond(request, send))
            listen = asyncio.ensure_future(self.listen_for_disconnect(receive))
            await asyncio.wait([respond, listen], return_when=asyncio.FIRST_COMPLETED)
            for task in (listen, respond):
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError, RequestAborted):
                    await task

    async def _answer_unread(self, request, error: GatewayError | None, send) -> None:
        """A body that never fully arrived (error: why; None: the client hung up). A view whose
        requests are logged runs all the same, and its request path answers and logs it, key
        checked and endpoint named (gateway/service.py logs_requests); any other is not run."""
        try:
            view = resolve(request.path_info, urlconf=request.urlconf).func
        except Resolver404:
            view = None
        if getattr(view, "iris_logs_requests", False):
            request.iris_body_unread = error or "gone"
            try:
                response = await self.run_get_response(request)
            except asyncio.CancelledError:
                if error is not None:  # a real cancellation (the server's), not the hang-up's
                    raise
                return  # the client hung up: its record says so (499)
        elif error is not None:
            response = error.response()
        else:
            return
        if error is not None:
            response["connection"] = "close"  # the rest of the body may still come: not here
            await self.send_response(response, send)

    async def _respond(self, request, send) -> None:
        response = None
        try:
            response = await self.run_get_response(request)
            await self.send_response(response, send)
        finally:
            if isinstance(response, FileResponse):  # the only kind holding a resource
                await sync_to_async(response.close)()
            # A hang-up while sending leaves the relay suspended: close it now, so its own
            # handler logs the partial stream (not the garbage collector, some time later).
            if (stream := getattr(response, "iris_stream", None)) is not None:
                await stream.aclose()

    async def read_body(self, receive):
        keep = settings.GATEWAY_MAX_BODY_BYTES + 1  # one byte over tells the view to refuse
        body = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - the caller closes it
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b"
        )
        with bodydeadline.Deadline() as deadline:
            try:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise RequestAborted()
                    if keep > 0 and (chunk := message.get("body", b"")):
                        body.write(chunk[:keep])
                        keep -= len(chunk)
                    if not message.get("more_body", False):
                        break
            except RequestAborted:
                raise _Unread(body, None) from None
            except asyncio.CancelledError:
                if deadline.passed():
                    raise _Unread(body, deadline.error()) from None
                body.close()
                raise
            except BaseException:
                body.close()
                raise
        body.seek(0)
        return body


class _Unread(Exception):
    """A body cut short: what arrived of it (body), and why (error; None: the client left)."""

    def __init__(self, body, error: GatewayError | None) -> None:
        self.body, self.error = body, error


django_app = ASGIHandler()
api_app = ApiHandler()


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"].startswith("/v1/"):
        if fastpath.wants(scope):  # the proxy's hot path, without Django's request
            return await fastpath.chat(scope, receive, send, api_app)
        return await api_app(scope, receive, send)
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    return await django_app(scope, receive, send)


def collector_thresholds(thresholds: tuple[int, ...]) -> None:
    """GATEWAY_GC_THRESHOLD: gen0[,gen1[,gen2]]; empty keeps Python's default."""
    if thresholds:
        gc.set_threshold(*thresholds)


async def lifespan(receive, send) -> None:
    probe: LagProbe | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Everything loaded so far lives as long as the process: keep it out of the
            # collector's full passes, each of which otherwise stalls the event loop for
            # 60-80 ms scanning Django's objects (p99 at 1 client: 50 ms -> 8 ms, bench/).
            gc.freeze()
            collector_thresholds(settings.GATEWAY_GC_THRESHOLD)
            shutdown.install()  # SIGTERM: open streams get their grace, then end cleanly
            request_log.writer.start()  # replays what a killed process left, even if idle
            replicas.start()  # hears other processes' key/provider/config/price saves
            if settings.IRIS_LOOP_LAG_PROBE:
                probe = LagProbe(settings.DATA_DIR)
                probe.start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            replicas.stop()
            if probe is not None:
                probe.stop()
            await request_log.drain()
            await http.close_sessions()
            await send({"type": "lifespan.shutdown.complete"})
            return
