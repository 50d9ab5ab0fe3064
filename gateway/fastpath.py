"""POST /v1/chat/completions straight from ASGI: the proxy's hot path, without Django's request.

Django's HttpRequest (META, QueryDict, the spooled body file), its URL resolver, script
prefix and handler cost about a fifth of a small request's CPU (bench/cpu_per_request.py);
service.complete needs none of them, only the path, the headers and the body. Everything a
client can see stays as the lean Django handler made it (gateway/asgi.py ApiHandler): the
ALLOWED_HOSTS check, the body cap, headers looked up case-insensitively (duplicates joined
with ",", names with "_" dropped), a hang-up cancelling the call (logged as 499), the response's
headers and bytes. Streams are sent by Django's handler code, as before.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

from django.conf import settings
from django.http import HttpResponse
from django.http.request import split_domain_port, validate_host
from django.utils.log import log_response

from gateway import bodydeadline, offload, service
from gateway.errors import GatewayError

PATH = "/v1/chat/completions"
# What django.request's log records carry of the request (its filters read path and method).
_REQUEST = SimpleNamespace(path=PATH, method="POST", META={})
_CHECKED_HOSTS_MAX = 256  # Host headers are client input: the cache of verdicts stays small
_checked_hosts: dict[str, bool] = {}
# Bodies up to this size are joined on the loop: 2 MB is a ~0.1-0.2 ms memcpy, while a hop to a
# thread and back costs ~0.05-0.1 ms of futex wake-ups and switches whatever the size.
_JOIN_INLINE_BYTES = 2 * 1024 * 1024
# A hang-up is watched for only once the answer takes this long: most answers a gateway
# relays take seconds, and for those that do not, a task per request to watch (~8 µs of the
# loop's time) buys nothing. A client gone sooner is noticed this much later, no more.
_WATCH_AFTER_SECONDS = 0.1


class Headers(dict):
    """Request headers by lowercase name, looked up case-insensitively (as Django's)."""

    __slots__ = ()

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def get(self, name: str, default=None):
        return dict.get(self, name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())


def wants(scope: dict) -> bool:
    """Is this request one the fast path serves (else the lean Django handler does)?"""
    return scope["path"] == PATH and scope["method"] == "POST" and not scope.get("root_path")


def headers_of(scope: dict) -> Headers:
    headers = Headers()
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin1").lower()
        if "_" in name:  # dropped, as Django drops it: x_api_key must not pass for x-api-key
            continue
        value = raw_value.decode("latin1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def host_allowed(headers: Headers) -> bool | None:
    """ALLOWED_HOSTS, as request.get_host() checks it; None: no Host header to judge by."""
    if settings.USE_X_FORWARDED_HOST and "x-forwarded-host" in headers:
        host = headers["x-forwarded-host"]  # present, even empty, it decides (as Django's)
        if not host:
            return False
    else:
        host = headers.get("host")
    if not host:
        return None
    verdict = _checked_hosts.get(host)
    if verdict is None:
        allowed = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        domain, _ = split_domain_port(host)
        verdict = bool(domain and validate_host(domain, allowed))
        if len(_checked_hosts) >= _CHECKED_HOSTS_MAX:
            _checked_hosts.clear()
        _checked_hosts[host] = verdict
    return verdict


class InFlight:
    """Bytes of request bodies this process holds, from their arrival until the answer is
    sent: GATEWAY_MAX_BODY_BYTES bounds one body, this bounds them all (a few hundred clients
    each sending a large body would otherwise hold them all in memory at once). A body is
    charged as its bytes arrive (a slow upload holds only what it sent), and a body that is the
    only one held is always admitted (its own limit still applies)."""

    used = 0
    refused = 0  # since the start, shown in /healthz

    @classmethod
    def take(cls, n: int, own: int) -> None:
        """Charge n more bytes to a body already holding `own`."""
        limit = settings.GATEWAY_MAX_BODY_BYTES_IN_FLIGHT
        if cls.used > own and cls.used + n > limit:
            cls.refused += 1
            raise GatewayError(
                503,
                f"The gateway is holding {limit} bytes of request bodies already "
                "(GATEWAY_MAX_BODY_BYTES_IN_FLIGHT); retry in a moment.",
                code="gateway_busy",
            )
        cls.used += n

    @classmethod
    def status(cls) -> dict:
        limit = settings.GATEWAY_MAX_BODY_BYTES_IN_FLIGHT
        return {"bytes": cls.used, "limit": limit, "refused": cls.refused}


class Body:
    """The request body, read from ASGI only when the service asks for it: after the key is
    checked, so a caller without a valid key never has Iris hold up to GATEWAY_MAX_BODY_BYTES
    for it."""

    def __init__(
        self, headers: Headers, receive: Callable[[], Awaitable[dict]], task: asyncio.Task
    ) -> None:
        self.headers, self.receive, self.task = headers, receive, task
        self.held = 0  # bytes taken from InFlight, given back by release()
        self.read_all = False
        self.client_gone = False
        self.timed_out = False  # past GATEWAY_BODY_READ_SECONDS: the rest is never read

    async def read(self, record) -> bytes:
        limit = settings.GATEWAY_MAX_BODY_BYTES
        if int(self.headers.get("content-length") or 0) > limit:
            raise service.too_large(limit)
        chunks = await self._chunks(limit + 1)  # one byte past the limit says "too large"
        size = sum(map(len, chunks))
        if len(chunks) == 1:
            body = chunks[0]
        elif size <= _JOIN_INLINE_BYTES:  # a memcpy costs less than a thread hop's wake-ups
            body = b"".join(chunks)
        else:  # a very big body: joined off the loop
            body = await offload.by_size(size, b"".join, chunks)
        chunks.clear()  # the joined bytes are the only copy from here on
        if len(body) > limit:
            raise service.too_large(limit)
        return body

    async def _chunks(self, keep: int) -> list[bytes]:
        chunks: list[bytes] = []
        with bodydeadline.Deadline(self.task) as deadline:
            try:
                while True:
                    message = await self.receive()
                    if message["type"] == "http.disconnect":
                        self.client_gone = True
                        raise asyncio.CancelledError  # logged as a client that went away (499)
                    self.read_all = not message.get("more_body", False)  # before take() raises
                    if keep > 0 and (chunk := message.get("body", b"")):
                        chunk = chunk if len(chunk) <= keep else chunk[:keep]
                        InFlight.take(len(chunk), self.held)
                        self.held += len(chunk)
                        chunks.append(chunk)
                        keep -= len(chunk)
                    if self.read_all:
                        return chunks
            except asyncio.CancelledError:
                if deadline.passed():
                    self.timed_out = True
                    raise deadline.error() from None
                raise

    async def discard(self) -> None:
        """Read what is left of a body answered early (a refused key, a full budget) without
        keeping it: a client still uploading then reads its answer, rather than a reset when
        the server closes a connection that is not kept alive. At most GATEWAY_MAX_BODY_BYTES."""
        if self.timed_out:
            return  # a client that slow is not waited for again: the connection is closed
        if not self.held and self.headers.get("expect", "").lower() == "100-continue":
            return  # the client waits for our word before sending it: it gets the answer
        left = settings.GATEWAY_MAX_BODY_BYTES
        with bodydeadline.Deadline(self.task) as deadline:
            try:
                while not (self.read_all or self.client_gone) and left > 0:
                    message = await self.receive()
                    if message["type"] == "http.disconnect":
                        self.client_gone = True
                        return
                    left -= len(message.get("body", b""))
                    self.read_all = not message.get("more_body", False)
            except asyncio.CancelledError:
                if not deadline.passed():
                    raise
                self.timed_out = True  # the answer goes out all the same, then the connection

    def release(self) -> None:
        InFlight.used -= self.held
        self.held = 0


async def chat(scope: dict, receive, send, handler) -> None:
    """Serve one POST /v1/chat/completions; `handler` (the lean Django one) sends streams
    and answers a request without a Host header."""
    headers = headers_of(scope)
    allowed = host_allowed(headers)
    if allowed is None:
        await handler(scope, receive, send)
        return
    if not allowed:
        await send_plain(_disallowed_host(), send)
        return
    task = asyncio.current_task()
    body = Body(headers, receive, task)
    state = {"finished": False, "gone": False}
    watcher: asyncio.Task | None = None
    watch_timer: asyncio.TimerHandle | None = None

    async def watch() -> None:
        # After the body, the only message left for the app is http.disconnect: it comes
        # when the client hangs up (or once the response is complete, when we stop first).
        message = await receive()
        if message["type"] == "http.disconnect" and not state["finished"]:
            state["gone"] = True
            task.cancel()

    def start_watching() -> None:
        nonlocal watcher
        if not state["finished"]:
            watcher = asyncio.get_running_loop().create_task(watch())

    async def read_then_watch(record) -> bytes:
        nonlocal watch_timer
        try:
            raw = await body.read(record)
        finally:
            state["gone"] = body.client_gone
        watch_timer = asyncio.get_running_loop().call_later(_WATCH_AFTER_SECONDS, start_watching)
        return raw

    response = None
    try:
        try:
            response = await service.complete(service.Call(PATH, headers, read_then_watch))
        except Exception as exc:  # a bug of ours: OpenAI's shape, as Django's handler would
            response = service.internal_error(exc, PATH).response()
        if response.status_code >= 400:  # as Django's handler does (gateway/log/answered.py)
            log_response(
                "%s: %s", response.reason_phrase, PATH, response=response, request=_REQUEST
            )
        if response.streaming:
            await handler.send_response(response, send)
        else:
            body.release()  # answered: its bytes are the record's (the log's budget) now
            await body.discard()
            if body.timed_out:  # the rest of its body may still come: not on this connection
                response["connection"] = "close"
            await send_plain(response, send)
    except asyncio.CancelledError:
        if not state["gone"]:
            raise
        task.uncancel()  # ours, from watch() or a hang-up mid-body: the record says so
    finally:
        state["finished"] = True
        body.release()
        if watch_timer is not None:
            watch_timer.cancel()
        if watcher is not None:
            watcher.cancel()
        # A hang-up while sending leaves the relay suspended: close it now, so its own
        # handler logs the partial stream (not the garbage collector, some time later).
        if (stream := getattr(response, "iris_stream", None)) is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await stream.aclose()


async def send_plain(response: HttpResponse, send) -> None:
    """A whole (not streamed) response, with the headers Django's handler would send, and
    its length (else uvicorn frames it in chunks, which every client must then undo)."""
    content = response.content
    headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in response.items()]
    for cookie in response.cookies.values():
        headers.append((b"Set-Cookie", cookie.output(header="").encode("ascii").strip()))
    if not response.has_header("content-length"):
        headers.append((b"content-length", str(len(content)).encode("ascii")))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _disallowed_host() -> HttpResponse:
    return GatewayError(
        400,
        "The Host header names a host this gateway does not serve (see ALLOWED_HOSTS).",
        code="disallowed_host",
    ).response()
