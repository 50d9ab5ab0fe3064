"""What one upstream call costs in the gateway's process, by HTTP client: aiohttp (what Iris
uses), aiohttp as Iris calls it (gateway.http's session, proxy.send, passed_headers and _read,
with a per-target timeout when --target-timeout is given), pyreqwest (if installed: a Rust
client on its own threads) and a bare asyncio protocol with httptools' parser (the floor: no
pool, no timeouts, no errors handled).

    .venv/bin/python bench/upstream_client_cost.py [--requests 20000] [--clients 32]

The fake upstream (bench/fake_upstream.py) runs on core 1, this process on core 0 (taskset);
each client posts the small chat body and reads the answer. Printed: process CPU (all its
threads) per request.
"""

import argparse
import asyncio
import importlib.util
import os
import resource
import socket
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


async def timed(name: str, one, requests: int, clients: int) -> None:
    async def client(n: int) -> None:
        for _ in range(n):
            await one()

    await asyncio.gather(*(client(50) for _ in range(clients)))  # warm the pool up
    started = cpu()
    await asyncio.gather(*(client(requests // clients) for _ in range(clients)))
    per = (cpu() - started) * 1e6 / (requests // clients * clients)
    print(f"{name:10s} {per:6.1f} µs of process CPU per request", flush=True)


async def with_aiohttp(url: str, requests: int, clients: int) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:

        async def one() -> None:
            async with session.post(url, data=BODY, headers=HEADERS) as response:
                await response.read()

        await timed("aiohttp", one, requests, clients)


async def with_iris(url: str, requests: int, clients: int, target_timeout: float | None) -> None:
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
        await timed("iris" if target_timeout is None else "iris+tmo", one, requests, clients)
    finally:
        await http.close_sessions()


async def with_pyreqwest(url: str, requests: int, clients: int) -> None:
    from pyreqwest.client import ClientBuilder

    async with ClientBuilder().build() as client:

        async def one() -> None:
            request = client.post(url).body_bytes(BODY)
            for name, value in HEADERS.items():
                request = request.header(name, value)
            response = await request.build().send()
            await response.bytes()

        await timed("pyreqwest", one, requests, clients)


class _Bare(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.done: asyncio.Future | None = None

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.done.set_result(None)


async def with_bare_protocol(port: int, requests: int, clients: int) -> None:
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

    await timed("bare", one, requests, clients)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--only", help="comma-separated cases: aiohttp,iris,pyreqwest,bare")
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
        only = set(args.only.split(",")) if args.only else None
        n, clients = args.requests, args.clients
        if not only or "aiohttp" in only:
            uvloop.run(with_aiohttp(url, n, clients))
        if not only or "iris" in only:
            uvloop.run(with_iris(url, n, clients, None))
            if args.target_timeout:
                uvloop.run(with_iris(url, n, clients, args.target_timeout))
        if (not only or "pyreqwest" in only) and importlib.util.find_spec("pyreqwest"):
            uvloop.run(with_pyreqwest(url, n, clients))
        if not only or "bare" in only:
            uvloop.run(with_bare_protocol(port, n, clients))
    finally:
        upstream.terminate()
        upstream.wait(10)


if __name__ == "__main__":
    main()
