"""Peak memory of one small but hostile request (issue 12, observation 8), on a real Iris.

    .venv/bin/python bench/limits.py

Starts `manage.py serve`, a local image host and a fake upstream (custom host), then sends
each request below alone and reports the server's peak RSS growth during it (VmHWM, reset
through /proc/<pid>/clear_refs before each), against the target: under 2× the request's own
bytes plus 100 MB. A request whose log record matters is measured until the record is written.
"""

import base64
import functools
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes import openai as fake_openai  # noqa: E402
from tests.fakes.big_images import huge_png, huge_tiff  # noqa: E402
from tests.fakes.server import FakeServer, Received, Reply  # noqa: E402

MB = 1 << 20
PASSWORD = "bench-limits-1"


@functools.cache
def photo() -> bytes:
    """About 4.3 MB of PNG (random pixels)."""
    out = io.BytesIO()
    Image.frombytes("RGB", (1200, 1200), os.urandom(1200 * 1200 * 3)).save(out, "PNG")
    return out.getvalue()


@functools.cache
def gzip_bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(4 * MB)
    return b"".join(compressor.compress(block) for _ in range(256)) + compressor.flush()


def upstream(request: Received) -> Reply:
    """OpenAI's fake, and by model name: 200 MB of JSON, a 1 GB gzip bomb, an endless line."""
    model = json.loads(request.body or b"{}").get("model") if request.method == "POST" else ""
    if model == "huge-json":
        return Reply(200, chunks=[b'{"pad": "', *(b"a" * MB for _ in range(200)), b'"}'])
    if model == "gzip-bomb":
        return Reply(200, gzip_bomb(), {"content-encoding": "gzip"})
    if model == "endless-line":
        line = (b"x" * 64 * 1024 for _ in range(1600))  # 100 MB, no line break
        return Reply(200, headers={"content-type": "text/event-stream"}, chunks=[b"data: ", *line])
    return fake_openai.handle(request)


class Iris:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.data = Path(tempfile.mkdtemp(prefix="iris-limits-"))
        self.env = {
            **os.environ,
            "IRIS_DATA_DIR": str(self.data),
            "GATEWAY_ALLOW_PRIVATE_NETWORKS": "true",
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        }
        self.manage("migrate", "-v0")
        self.key = self.manage("create_api_key", "bench")
        self.manage("createsuperuser", "--noinput", "--username", "a", "--email", "a@example.com")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(300):
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

    def manage(self, *args: str) -> str:
        run = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True
        )
        return run.stdout.decode().strip()

    def status(self, field: str) -> int:
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(rf"{field}:\s+(\d+) kB", text)[1]) * 1024

    def peak(self, send: Callable[[], str]) -> tuple[int, int, str]:
        """(RSS before, peak growth, outcome) of one request."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        base = self.status("VmRSS")
        outcome = send()
        return base, self.status("VmHWM") - base, outcome

    def chat(self, provider: str, host: str, model: str, content, **extra) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
        headers = {
            "x-portkey-api-key": self.key,
            "x-portkey-provider": provider,
            "x-portkey-custom-host": host,
            "authorization": "Bearer sk-bench",
        }
        raw = json.dumps(body).encode()
        response = httpx.post(
            f"{self.url}/v1/chat/completions", headers=headers, content=raw, timeout=300
        )
        response.request_bytes = len(raw)
        return response

    def wait_for_log(self, request_id: str) -> dict:
        headers = {"x-portkey-api-key": self.key}
        for _ in range(600):
            rows = httpx.get(
                f"{self.url}/v1/logs", params={"request_id": request_id}, headers=headers
            ).json()["data"]
            if rows:
                return httpx.get(f"{self.url}/v1/logs/{rows[0]['id']}", headers=headers).json()
            time.sleep(0.1)
        raise RuntimeError(f"no log for {request_id}")

    def login(self) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=120)
        page = client.get("/logs/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        client.post(
            "/logs/login/",
            data={"username": "a", "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        return client

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)
        shutil.rmtree(self.data, ignore_errors=True)


def image(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def outcome(response: httpx.Response) -> str:
    if response.status_code != 200:
        return f"{response.status_code} {response.json()['error'].get('code')}"
    codes = re.findall(r'"code":\s*"(\w+)"', response.text[-2000:])
    return f"200, stream ended by an error event {codes[-1]}" if codes else "200"


def main() -> None:
    gets = {"n": 0}

    def host(request: Received) -> Reply:
        gets["n"] += 1
        return Reply(200, photo(), {"content-type": "image/png"})

    photo(), gzip_bomb()  # made before any measuring
    with FakeServer(host) as images, FakeServer(upstream) as fake:
        over = [
            name
            for name, send, setup in cases(f"{images.url}/photo.png", f"{fake.url}/v1")
            if not measure(name, send, setup, gets)
        ]
    print("all under the bound" if not over else f"over the bound: {', '.join(over)}")


Send = Callable[["Iris", dict], tuple[str, int]]  # → (outcome, the request's bytes)


def measure(name: str, send: Send, setup: Send | None, gets: dict) -> bool:
    """One case on a fresh server (memory freed by an earlier case would hide this one's)."""
    iris = Iris()
    try:
        iris.chat("openai", OPENAI_HOST[0], "gpt-4o", "warm-up")
        state: dict = {}
        if setup:
            setup(iris, state)
        box: dict = {}
        before = gets["n"]

        def go() -> str:
            box["outcome"], box["bytes"] = send(iris, state)
            return box["outcome"]

        base, growth, result = iris.peak(go)
    finally:
        iris.stop()
    bound = 2 * box["bytes"] + 100 * MB
    print(
        f"{name:<42} request {box['bytes'] / 1024:>5.0f} KB  RSS {base / MB:>4.0f} MB  "
        f"peak +{growth / MB:>5.0f} MB (bound {bound / MB:.0f}: "
        f"{'ok' if growth < bound else 'OVER'})  fetches {gets['n'] - before}  → {result}",
        flush=True,
    )
    return growth < bound


OPENAI_HOST = [""]


def cases(photo_url: str, openai_host: str) -> list[tuple[str, Send, Send | None]]:
    OPENAI_HOST[0] = openai_host
    png, tiff = huge_png(13_000, 13_000), huge_tiff(13_000, 13_000)

    def copies(provider: str, model: str) -> Send:
        def send(iris: Iris, state: dict) -> tuple[str, int]:
            response = iris.chat(provider, openai_host, model, [image(photo_url)] * 250)
            if response.status_code == 200:  # until its log record, with the URL snapshot
                iris.wait_for_log(response.headers["x-iris-request-id"])
            return outcome(response), response.request_bytes

        return send

    def send_png(iris: Iris, state: dict) -> tuple[str, int]:
        response = iris.chat("openai", openai_host, "gpt-4o", [image(data_uri(png, "image/png"))])
        state["log"] = iris.wait_for_log(response.headers["x-iris-request-id"])
        return outcome(response), response.request_bytes

    def send_thumbnail(iris: Iris, state: dict) -> tuple[str, int]:
        log, client = state["log"], state["client"]
        response = client.get(f"/logs/images/{log['images'][0]['sha256']}/thumb-480.webp")
        page = client.get(f"/logs/{log['id']}/")
        kind = "placeholder" if response.headers.get("x-iris-thumbnail-error") else "thumbnail"
        return f"{response.status_code} {kind}, page {page.status_code}", 0

    def logged_png(iris: Iris, state: dict) -> tuple[str, int]:
        send_png(iris, state)
        state["client"] = iris.login()
        return "", 0

    def send_tiff(iris: Iris, state: dict) -> tuple[str, int]:
        parts = [image(data_uri(tiff, "image/tiff"))]
        response = iris.chat("anthropic", openai_host, "claude-sonnet-4-5", parts)
        return outcome(response), response.request_bytes

    def misbehaving(model: str, **extra) -> Send:
        def send(iris: Iris, state: dict) -> tuple[str, int]:
            response = iris.chat("openai", openai_host, model, "hi", **extra)
            return outcome(response), response.request_bytes

        return send

    size = f"{len(png) // 1024} KB 13000×13000"
    return [
        ("250× one 4.3 MB URL, OpenAI (log snapshot)", copies("openai", "gpt-4o"), None),
        ("250× one 4.3 MB URL, Gemini (inlined)", copies("google", "gemini-2.5-flash"), None),
        (f"{size} PNG, proxied and logged", send_png, None),
        ("its thumbnail and page in the logs UI", send_thumbnail, logged_png),
        (f"{len(tiff) // 1024} KB 13000×13000 TIFF for Anthropic", send_tiff, None),
        ("upstream answers 200 MB of JSON", misbehaving("huge-json"), None),
        ("upstream answers a 1 GB gzip bomb (1 MB)", misbehaving("gzip-bomb"), None),
        ("upstream streams a 100 MB line", misbehaving("endless-line", stream=True), None),
    ]


if __name__ == "__main__":
    main()
