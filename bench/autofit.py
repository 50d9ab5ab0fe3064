"""Benchmark: auto-fit (x-iris-image-fit: auto) on phone-camera photos, through a real Iris.

    .venv/bin/python bench/autofit.py [--mbit 50] [--requests 8] [--clients 1]

A 4000×3000 JPEG made like a phone's (a photograph upscaled, with sensor-like noise, about
3.3 MB, under Anthropic's 5 MB of base64 that anthropic_media checks) goes to a tile-based
OpenAI model at detail high (gpt-4o: seen at 1024×768) and to Anthropic (claude-sonnet-4-5:
1270×952), each with auto-fit off and on. The fake upstream reads each request body at
--mbit megabits a second (a realistic uplink from a gateway to a provider; 50 by default),
then answers. Figures: bytes the client sent, bytes the upstream received, the upstream's
time to read them, the client's end-to-end latency (p50 and max), and Iris's own time (the
latency less the upstream's read: parsing, resizing, logging), per scenario.
"""

import argparse
import asyncio
import base64
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "images" / "hubble_deep_field.jpg"
FAKE_PORT, IRIS_PORT = 9310, 9311

OPENAI_ANSWER = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "A starfield."},
        }
    ],
    "usage": {"prompt_tokens": 780, "completion_tokens": 3, "total_tokens": 783},
}
ANTHROPIC_ANSWER = {
    "id": "msg_bench",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "A starfield."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1580, "output_tokens": 3},
}


def phone_photo() -> bytes:
    """4000×3000, JPEG quality 92: the photograph upscaled, with colour noise like a sensor's
    so that it compresses as a real photo does (a smooth upscale would be far smaller)."""
    big = Image.open(SOURCE).convert("RGB").resize((4000, 3000), Image.LANCZOS)
    noise = Image.merge("RGB", [Image.effect_noise((4000, 3000), 40) for _ in range(3)])
    out = io.BytesIO()
    Image.blend(big, noise, 0.14).save(out, "JPEG", quality=92)
    return out.getvalue()


class Upstream:
    """A fake OpenAI and Anthropic that reads each body at `rate` bytes a second."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.reads: list[tuple[int, float]] = []  # (body bytes, seconds to read them)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
                size = int(headers.get("content-length", 0))
                start = time.perf_counter()
                await self.read_slowly(reader, size)
                self.reads.append((size, time.perf_counter() - start))
                answer = ANTHROPIC_ANSWER if path.endswith("/messages") else OPENAI_ANSWER
                body = json.dumps(answer).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def read_slowly(self, reader: asyncio.StreamReader, size: int) -> None:
        start, done = time.perf_counter(), 0
        while done < size:
            chunk = await reader.read(min(65536, size - done))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", size)
            done += len(chunk)
            ahead = done / self.rate - (time.perf_counter() - start)
            if ahead > 0:
                await asyncio.sleep(ahead)

    def serve_in_thread(self) -> None:
        loop = asyncio.new_event_loop()

        async def main() -> None:
            server = await asyncio.start_server(self.handle, "127.0.0.1", FAKE_PORT)
            async with server:
                await server.serve_forever()

        threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True).start()


def start_iris(data_dir: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "IRIS_DATA_DIR": str(data_dir), "GATEWAY_ALLOW_PRIVATE_NETWORKS": "true"}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    key = subprocess.run(
        [*manage, "create_api_key", "bench"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    process = subprocess.Popen(
        [*manage, "serve", "--port", str(IRIS_PORT)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{IRIS_PORT}/healthz", timeout=1).status_code == 200:
                return process, key
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("Iris did not start")


def body_for(model: str, photo: bytes, detail: str | None) -> bytes:
    image = {"url": "data:image/jpeg;base64," + base64.b64encode(photo).decode()}
    if detail:
        image["detail"] = detail
    content = [
        {"type": "text", "text": "What is in this photo?"},
        {"type": "image_url", "image_url": image},
    ]
    return json.dumps(
        {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": content}]}
    ).encode()


def run(key: str, upstream: Upstream, provider: str, body: bytes, fit: str, args) -> dict:
    headers = {
        "x-portkey-api-key": key,
        "x-portkey-provider": provider,
        "x-portkey-custom-host": f"http://127.0.0.1:{FAKE_PORT}/v1",
        "authorization": "Bearer sk-bench",
        "content-type": "application/json",
        "x-iris-image-fit": fit,
    }
    url = f"http://127.0.0.1:{IRIS_PORT}/v1/chat/completions"
    latencies: list[float] = []
    said = ""

    def one(client: httpx.Client) -> None:
        nonlocal said
        start = time.perf_counter()
        response = client.post(url, content=body, headers=headers)
        latencies.append(time.perf_counter() - start)
        response.raise_for_status()
        said = response.headers.get("x-iris-image-fit", "")

    with httpx.Client(timeout=120) as client:
        one(client)  # warm-up: not counted
    latencies.clear()
    upstream.reads.clear()
    per_client = max(1, args.requests // args.clients)
    threads = []
    for _ in range(args.clients):

        def work() -> None:
            with httpx.Client(timeout=120) as client:
                for _ in range(per_client):
                    one(client)

        threads.append(threading.Thread(target=work))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sizes = [size for size, _ in upstream.reads]
    reads = [seconds for _, seconds in upstream.reads]
    return {
        "client_bytes": len(body),
        "upstream_bytes": statistics.median(sizes),
        "read_p50": statistics.median(reads) * 1000,
        "p50": statistics.median(latencies) * 1000,
        "max": max(latencies) * 1000,
        "count": len(latencies),
        "header": said,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mbit", type=float, default=50.0, help="the upstream's read rate")
    parser.add_argument("--requests", type=int, default=8, help="timed requests per scenario")
    parser.add_argument("--clients", type=int, default=1, help="concurrent clients")
    args = parser.parse_args()

    photo = phone_photo()
    print(
        f"photo: 4000×3000 JPEG, {len(photo) / 1e6:.2f} MB; upstream reads at {args.mbit:g} "
        f"Mbit/s; {args.requests} requests a scenario, {args.clients} client(s)",
        flush=True,
    )
    upstream = Upstream(args.mbit * 1e6 / 8)
    upstream.serve_in_thread()
    data_dir = Path(tempfile.mkdtemp(prefix="iris-autofit-"))
    iris, key = start_iris(data_dir)
    scenarios = [
        ("openai", "gpt-4o", "high"),
        ("anthropic", "claude-sonnet-4-5", None),
    ]
    try:
        rows = []
        for provider, model, detail in scenarios:
            body = body_for(model, photo, detail)
            for fit in ("off", "auto"):
                result = run(key, upstream, provider, body, fit, args)
                rows.append((provider, model, fit, result))
                print(f"  {provider} {model} fit={fit}: {result}", flush=True)
    finally:
        iris.send_signal(signal.SIGTERM)
        iris.wait(60)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(
        "\n| provider, model | auto-fit | client → Iris | Iris → upstream | upstream read p50 "
        "| end-to-end p50 / max | Iris's own time p50 |"
    )
    print("|---|---|---|---|---|---|---|")
    for provider, model, fit, r in rows:
        print(
            f"| {provider} {model} | {fit} | {r['client_bytes'] / 1e6:.2f} MB "
            f"| {r['upstream_bytes'] / 1e6:.3f} MB | {r['read_p50']:.0f} ms "
            f"| {r['p50']:.0f} / {r['max']:.0f} ms | {r['p50'] - r['read_p50']:.0f} ms |"
        )


if __name__ == "__main__":
    main()
