"""What one upstream call costs in the gateway's process, by HTTP client: aiohttp (what Iris
uses), aiohttp as Iris calls it (gateway.http's session, proxy.send, passed_headers and _read,
with a per-target timeout when --target-timeout is given), pyreqwest (if installed: a Rust
client on its own threads) and a bare asyncio protocol with httptools' parser (the floor: no
pool, no timeouts, no errors handled).

    .venv/bin/python bench/upstream_client_cost.py [--requests 20000] [--clients 32] \
        [--rounds 5] [--only aiohttp,iris] [--target-timeout 30]

The fake upstream (bench/fake_upstream.py) runs on core 1, this process on core 0 (taskset);
each client posts the small chat body and reads the answer. Printed: process CPU (all its
threads) per request, the median of rounds that alternate between the cases.
"""

import argparse
import asyncio
import contextlib
import functools
import importlib.util
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httptools
import uvloop

BENCH = Path(__file__).resolve().parent
BODY = b'{"model":"gpt-4o","messages":[{"role":"user","content":"What is in it?"}]}'
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-bench"}


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def timed(one, requests: int, clients: int) -> float:
    """Process CPU µs per request over `requests` calls by `clients` concurrent clients."""

    async def client(n: int) -> None:
        for _ in range(n):
            await one()

    started = cpu()
    await asyncio.gather(*(client(requests // clients) for _ in range(clients)))
    return (cpu() - started) * 1e6 / (requests // clients * clients)


@contextlib.asynccontextmanager
async def with_aiohttp(url: str, port: int):
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:

        async def one() -> None:
            async with session.post(url, data=BODY, headers=HEADERS) as response:
                await response.read()

        yield one


@contextlib.asynccontextmanager
async def with_iris(url: str, port: int, target_timeout: float | None = None):
    """The calls Iris makes for one non-streaming chat, minus building the request and the log
    record (a plain namespace stands in for it: its construction is not the client's cost)."""
    sys.path.insert(0, str(BENCH.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
    import django

    django.setup()
    from types import SimpleNamespace

    from gateway import http, proxy
    from gateway.providers.base import Target, Upstream

    target = Target("openai", base_url=url, base_url_trusted=True, timeout=target_timeout)

    async def one() -> None:
        upstream = Upstream("POST", url, dict(HEADERS), BODY)
        record = SimpleNamespace()
        response = await proxy.send(upstream, target, record)
        proxy.passed_headers(response)
        await proxy._read(response)

    try:
        yield one
    finally:
        await http.close_sessions()


STREAM_BODY = BODY[:-1] + b',"stream":true}'


@contextlib.asynccontextmanager
async def with_iris_stream(url: str, port: int, aiohttp_timer: bool = False):
    """A 50-chunk stream (fake_upstream.py's) sent by proxy.send and read as proxy.relay reads
    it. aiohttp_timer: the same session settings on aiohttp's own connection protocol, which
    re-arms the sock_read timer on every read (gateway.http.ReadTimeoutProtocol does not)."""
    sys.path.insert(0, str(BENCH.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
    import aiohttp
    import django

    django.setup()
    from gateway import http, proxy
    from gateway.providers.base import Upstream

    session = http.session(trusted=True)
    if aiohttp_timer:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1000, limit_per_host=0, ttl_dns_cache=60),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            timeout=session.timeout,
        )
    upstream = Upstream("POST", url, dict(HEADERS), STREAM_BODY)

    async def one() -> None:
        response = await session.request(
            "POST",
            proxy._url(url),
            headers=upstream.headers,
            data=upstream.content,
            allow_redirects=False,
        )
        async for _ in response.content.iter_any():
            pass
        response.release()

    try:
        yield one
    finally:
        await session.close()
        await http.close_sessions()


@contextlib.asynccontextmanager
async def with_pyreqwest(url: str, port: int):
    from pyreqwest.client import ClientBuilder

    async with ClientBuilder().build() as client:

        async def one() -> None:
            request = client.post(url).body_bytes(BODY)
            for name, value in HEADERS.items():
                request = request.header(name, value)
            response = await request.build().send()
            await response.bytes()

        yield one


class _Bare(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.done: asyncio.Future | None = None

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.done.set_result(None)


@contextlib.asynccontextmanager
async def with_bare_protocol(url: str, port: int):
    loop = asyncio.get_running_loop()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
        + f"content-length: {len(BODY)}\r\n\r\n"
    ).encode()
    connections: list[tuple[asyncio.Transport, _Bare]] = []

    async def one() -> None:
        transport, protocol = (
            connections.pop()
            if connections
            else await loop.create_connection(_Bare, "127.0.0.1", port)
        )
        protocol.done = loop.create_future()
        transport.writelines([head, BODY])
        await protocol.done
        connections.append((transport, protocol))

    yield one
    for transport, _ in connections:
        transport.close()


async def compare(cases: dict, url: str, port: int, args) -> None:
    """Every case's client open at once; rounds alternate between them, so a noisy neighbour
    on the machine spoils all cases alike rather than one. Reported: the median and least round."""
    async with contextlib.AsyncExitStack() as stack:
        enter = stack.enter_async_context
        ones = {name: await enter(make(url, port)) for name, make in cases.items()}
        for one in ones.values():
            await timed(one, 50 * args.clients, args.clients)  # warm the pool up
        figures: dict[str, list[float]] = {name: [] for name in ones}
        for _ in range(args.rounds):
            for name, one in ones.items():
                figures[name].append(await timed(one, args.requests // args.rounds, args.clients))
        for name, values in figures.items():
            print(
                f"{name:10s} median {statistics.median(values):6.1f}  min {min(values):6.1f}"
                " µs of process CPU per request"
            )
        print("rounds:", {name: [round(v, 1) for v in values] for name, values in figures.items()})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--only",
        help="comma-separated: aiohttp,iris,iris+tmo,stream,stream-aiohttp-timer,pyreqwest,bare",
    )
    parser.add_argument(
        "--target-timeout", type=float, help="also time Iris with a per-target timeout (s)"
    )
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.sched_setaffinity(0, {0})
    upstream = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, str(BENCH / "fake_upstream.py"), str(port)]
    )
    try:
        time.sleep(1)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        cases = {
            "aiohttp": with_aiohttp,
            "iris": with_iris,
            "iris+tmo": functools.partial(with_iris, target_timeout=args.target_timeout),
            "stream": with_iris_stream,
            "stream-aiohttp-timer": functools.partial(with_iris_stream, aiohttp_timer=True),
            "pyreqwest": with_pyreqwest,
            "bare": with_bare_protocol,
        }
        if not args.target_timeout:
            del cases["iris+tmo"]
        if not args.only:  # streams take 100 ms each: only when asked for
            del cases["stream"], cases["stream-aiohttp-timer"]
        if not importlib.util.find_spec("pyreqwest"):
            del cases["pyreqwest"]
        if args.only:
            cases = {name: make for name, make in cases.items() if name in args.only.split(",")}
        uvloop.run(compare(cases, url, port, args))
    finally:
        upstream.terminate()
        upstream.wait(10)


if __name__ == "__main__":
    main()
