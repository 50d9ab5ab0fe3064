"""gateway.http's session and gateway.proxy's send/_read against a real local server: the read
timeout kept by one timer per connection (ReadTimeoutProtocol), per-target timeouts, the one-read
path for small bodies and the capped path for compressed ones."""

import asyncio
import gzip
import inspect

import pytest
from aiohttp.client_proto import ResponseHandler

from gateway import http, proxy
from gateway.errors import GatewayError
from gateway.providers.base import Target, Upstream

BODY = b'{"id": "chatcmpl-1", "object": "chat.completion"}'


class Record:
    """What send() notes on the log record."""


async def serve(writer: asyncio.StreamWriter, path: str) -> None:
    """Answers by path: /ok at once, /stall sends part of the body and stops, /cut
    sends part and hangs up, /trickle sends the
    body a byte every 0.1 s, /gzip a compressed body, /chunks:N N chunks 10 ms apart."""
    head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req-1\r\n"
    if path == "/ok":
        writer.write(f"{head}content-length: {len(BODY)}\r\n\r\n".encode() + BODY)
    elif path == "/stall":
        writer.write(f"{head}content-length: {len(BODY)}\r\n\r\n".encode() + BODY[:10])
    elif path == "/cut":
        writer.write(f"{head}content-length: {len(BODY)}\r\n\r\n".encode() + BODY[:10])
        await writer.drain()
        raise ConnectionError("cut: the upstream hangs up mid-body")
    elif path == "/trickle":
        writer.write(f"{head}content-length: {len(BODY)}\r\n\r\n".encode())
        for byte in BODY[:8]:
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.write(bytes([byte]))
        writer.write(BODY[8:])
    elif path.startswith("/gzip:"):
        packed = gzip.compress(b"x" * int(path.split(":")[1]))
        writer.write(
            f"{head}content-encoding: gzip\r\ncontent-length: {len(packed)}\r\n\r\n".encode()
            + packed
        )
    elif path.startswith("/chunks:"):
        writer.write(f"{head}transfer-encoding: chunked\r\n\r\n".encode())
        for _ in range(int(path.split(":")[1])):
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.write(b"6\r\nchunk\n\r\n")
        writer.write(b"0\r\n\r\n")
    await writer.drain()


@pytest.fixture
async def upstream():
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                await serve(writer, head.split(b" ")[1].decode())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()
    await http.close_sessions()


@pytest.fixture
def read_timeout(settings):
    settings.GATEWAY_UPSTREAM_TIMEOUT = 0.3
    settings.GATEWAY_CONNECT_TIMEOUT = 5.0


async def call(base: str, path: str, timeout: float | None = None) -> bytes:
    target = Target("openai", base_url=base, base_url_trusted=True, timeout=timeout)
    upstream = Upstream("POST", base + path, {"content-type": "application/json"}, b"{}")
    async with asyncio.timeout(20):  # a missed timeout fails here, not by hanging the suite
        response = await proxy.send(upstream, target, Record())
        return await proxy._read(response)


async def test_a_body_that_stalls_after_the_headers_times_out(upstream, read_timeout):
    with pytest.raises(GatewayError) as caught:
        await call(upstream, "/stall")
    assert caught.value.status == 504 and caught.value.code == "upstream_timeout"


async def test_a_body_cut_short_is_a_502(upstream):
    with pytest.raises(GatewayError) as caught:
        await call(upstream, "/cut")
    assert caught.value.status == 502 and caught.value.code == "upstream_unreachable"


async def test_reads_keep_a_slow_body_alive_past_the_read_timeout(upstream, read_timeout):
    """sock_read is a timeout between reads: 0.8 s of trickling with 0.3 s allowed between."""
    assert await call(upstream, "/trickle") == BODY


async def test_a_shorter_per_target_timeout_applies_on_a_pooled_connection(upstream, settings):
    """The connection's timer was armed for the session's 30 s by the first call; the second,
    with a 0.3 s target timeout, must not wait for it."""
    settings.GATEWAY_UPSTREAM_TIMEOUT = 30.0
    assert await call(upstream, "/ok") == BODY
    with pytest.raises(GatewayError) as caught:
        await call(upstream, "/stall", timeout=0.3)
    assert caught.value.code == "upstream_timeout"


async def test_an_idle_pooled_connection_does_not_time_out(upstream, read_timeout):
    assert await call(upstream, "/ok") == BODY
    session = http.session(trusted=True)
    await asyncio.sleep(0.5)  # idle past the read timeout: its timer fires and finds no read
    assert await call(upstream, "/ok") == BODY
    assert len(session.connector._conns) == 1  # the same connection, still pooled


async def test_a_stream_of_many_reads_arms_the_read_timer_once(upstream, settings, monkeypatch):
    """aiohttp's own protocol would arm a timer for each of the 40 reads."""
    settings.GATEWAY_UPSTREAM_TIMEOUT = 30.0
    armed = []
    arm = http.ReadTimeoutProtocol._arm
    monkeypatch.setattr(
        http.ReadTimeoutProtocol,
        "_arm",
        lambda self, when: (armed.append(when), arm(self, when))[1],
    )
    assert await call(upstream, "/chunks:40") == b"chunk\n" * 40
    assert len(armed) == 1


async def test_a_small_gzip_body_is_read_inflated(upstream):
    assert await call(upstream, "/gzip:1000") == b"x" * 1000


async def test_a_gzip_body_inflating_past_the_cap_is_refused(upstream, settings):
    settings.GATEWAY_MAX_RESPONSE_BYTES = 100_000
    with pytest.raises(GatewayError) as caught:
        await call(upstream, "/gzip:5000000")  # 5 KB on the wire
    assert caught.value.code == "upstream_response_too_large"


async def test_passed_headers_keep_request_ids(upstream):
    target = Target("openai", base_url=upstream, base_url_trusted=True)
    upstream_request = Upstream("POST", upstream + "/ok", {}, b"{}")
    response = await proxy.send(upstream_request, target, Record())
    assert proxy.passed_headers(response) == {"x-request-id": "req-1"}
    assert await proxy._read(response) == BODY


async def test_aiohttp_still_has_the_internals_read_timeout_protocol_overrides():
    """ReadTimeoutProtocol overrides private parts of aiohttp's ResponseHandler and sets
    TCPConnector._factory: if an aiohttp release renames them, fail here, loudly."""
    for name in ("_reschedule_timeout", "_drop_timeout", "_on_read_timeout", "start_timeout"):
        assert callable(getattr(ResponseHandler, name)), name
    protocol = ResponseHandler(loop=asyncio.get_running_loop())
    assert protocol._read_timeout_handle is None and protocol._read_timeout is None
    connector = http.Connector()
    try:
        assert isinstance(connector._factory(), http.ReadTimeoutProtocol)
    finally:
        await connector.close()
    # aiohttp still arms a new timer on each reschedule (else the override has no purpose).
    assert "call_later(" in inspect.getsource(ResponseHandler._reschedule_timeout)
