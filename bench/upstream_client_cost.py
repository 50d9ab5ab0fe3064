"""What one upstream call costs in the gateway's process, by HTTP client: aiohttp (what Iris
uses), pyreqwest (if installed: a Rust client on its own threads) and a bare asyncio protocol
with httptools' parser (the floor: no pool, no timeouts, no errors handled).

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
    print(f"{name:10s} {per:6.1f} µs of process CPU per request")


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
        uvloop.run(with_aiohttp(url, args.requests, args.clients))
        if importlib.util.find_spec("pyreqwest"):
            uvloop.run(with_pyreqwest(url, args.requests, args.clients))
        uvloop.run(with_bare_protocol(port, args.requests, args.clients))
    finally:
        upstream.terminate()
        upstream.wait(10)


if __name__ == "__main__":
    main()
