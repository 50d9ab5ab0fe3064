"""Benchmark: Iris (logging on) against Portkey's gateway, both in front of one fake upstream.

    .venv/bin/python bench/run.py [--seconds 10] [--skip-portkey]

Needs wrk and taskset (Debian: `apt-get install wrk util-linux`) and, for the Portkey peer,
node + `npm ci --prefix bench/portkey` (its lockfile pins the server versions whose streams
work). Each gateway runs alone, pinned to core 0; wrk, the stream client and the fake upstream
share core 1. Figures: added latency p50/p99 at 1 client (gateway minus the upstream alone),
req/s and p99 at 32 clients, the same with a 0.75 MB base64 JPEG at 8 clients, time to first
byte overhead of a 50-chunk stream, RSS after the image run, and (Iris) memory growth while
proxying a 20 MB image. For Iris also the event loop's lag (how late a 5 ms sleep wakes up,
IRIS_LOOP_LAG_PROBE, gateway/lagprobe.py) during the 32-client and the image runs.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PHOTO = ROOT.parent / "shared" / "images" / "hubble_deep_field.jpg"
FAKE_PORT, GATEWAY_PORT = 9300, 9301
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = io.open(os.getenv("BENCH_BODY"), "rb"):read("*a")
for name, value in string.gmatch(os.getenv("BENCH_HEADERS"), "([^\\n:]+): ([^\\n]+)") do
  wrk.headers[name] = value
end
"""


def jpeg_of_base64_size(target: int) -> bytes:
    """A real photograph re-encoded so that its base64 form is about `target` bytes."""
    photo = Image.open(PHOTO).convert("RGB")
    photo = photo.resize((photo.width * 3 // 2, photo.height * 3 // 2))  # room to reach target
    best = b""
    for quality in range(60, 100):
        out = io.BytesIO()
        photo.save(out, "JPEG", quality=quality)
        if len(base64.b64encode(out.getvalue())) > target:
            break
        best = out.getvalue()
    return best


def noise_png(size_bytes: int) -> bytes:
    side = int((size_bytes / 3) ** 0.5)
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=0)
    return out.getvalue()


def chat_body(image: bytes | None = None, *, stream: bool = False, mime="image/jpeg") -> bytes:
    content: list[dict] = [{"type": "text", "text": "What is in this image?"}]
    if image:
        uri = f"data:{mime};base64," + base64.b64encode(image).decode()
        content.append({"type": "image_url", "image_url": {"url": uri}})
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


class Peer:
    def __init__(
        self, name: str, command: list[str], env: dict | None = None, lag_dir: Path | None = None
    ) -> None:
        self.name, self.command, self.env = name, command, env or {}
        self.lag_dir = lag_dir  # where the server writes its loop-lag histogram, if it does
        self.url = f"http://127.0.0.1:{GATEWAY_PORT}/v1/chat/completions"
        self.headers = {
            "x-portkey-provider": "openai",
            "authorization": "Bearer sk-bench",
            "x-portkey-custom-host": f"http://127.0.0.1:{FAKE_PORT}/v1",
            "content-type": "application/json",
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["taskset", "-c", "0", *self.command],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.url.replace("/v1/chat/completions", "/"), any_status=True)

    def stop(self) -> None:
        if self.process:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)

    def lag(self) -> dict | None:
        """The event-loop lag since the last call (the server resets its histogram)."""
        if self.lag_dir is None:
            return None
        path = self.lag_dir / f"loop-lag-{self.process.pid}.json"
        seen = json.loads(path.read_text())["seq"] if path.exists() else 0
        self.process.send_signal(signal.SIGUSR1)
        for _ in range(100):
            if path.exists() and (summary := json.loads(path.read_text()))["seq"] > seen:
                return summary
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} wrote no loop-lag figures to {path}")

    def rss_mb(self, field: str = "VmRSS") -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(rf"{field}:\s+(\d+)", status)[1]) / 1024


def wait_for(url: str, any_status: bool = False) -> None:
    for _ in range(300):
        try:
            if httpx.get(url, timeout=1).status_code == 200 or any_status:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def wrk(url: str, headers: dict, body: bytes, clients: int, seconds: int) -> dict:
    with (
        tempfile.NamedTemporaryFile(suffix=".json") as body_file,
        tempfile.NamedTemporaryFile("w", suffix=".lua") as script,
    ):
        body_file.write(body)
        body_file.flush()
        script.write(WRK_SCRIPT)
        script.flush()
        env = {
            **os.environ,
            "BENCH_BODY": body_file.name,
            "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items()),
        }
        out = subprocess.run(
            [
                "taskset",
                "-c",
                "1",
                "wrk",
                "-t1",
                f"-c{clients}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    if "Requests/sec" not in out or not re.search(r"50%\s+[\d.]+\w", out):
        raise RuntimeError(f"wrk measured nothing against {url}:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M)[1]),
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M)[1]),
        "rps": float(re.search(r"Requests/sec:\s+(\S+)", out)[1]),
        "errors": int(errors[1]) if errors else 0,
    }


def _ms(value: str) -> float:
    match = re.match(r"([\d.]+)(\w+)", value)
    if not match:
        raise RuntimeError(f"wrk printed an unreadable latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def ttfb_ms(url: str, headers: dict, runs: int = 40) -> float:
    """Median time to the first streamed byte."""
    body = chat_body(stream=True)
    times = []
    with httpx.Client(timeout=30) as client:
        for _ in range(runs):
            start = time.perf_counter()
            with client.stream("POST", url, headers=headers, content=body) as response:
                pieces = response.iter_raw()
                next(pieces)
                times.append((time.perf_counter() - start) * 1000)
                for _ in pieces:
                    pass
    return statistics.median(times)


def check_forwarding(peer: Peer, body: bytes, image: bytes) -> None:
    """Before timing: one request reaches the upstream, with the image byte-identical."""
    before = httpx.get(f"http://127.0.0.1:{FAKE_PORT}/stats").json()
    response = httpx.post(peer.url, headers=peer.headers, content=body, timeout=30)
    response.raise_for_status()
    after = httpx.get(f"http://127.0.0.1:{FAKE_PORT}/stats").json()
    uri = "data:image/jpeg;base64," + base64.b64encode(image).decode()
    assert after["requests"] == before["requests"] + 1, f"{peer.name} did not reach upstream"
    assert after["last_image_sha256"] == hashlib.sha256(uri.encode()).hexdigest(), (
        f"{peer.name} altered the image"
    )


def measure(peer: Peer, seconds: int, small: bytes, image_body: bytes, image: bytes) -> dict:
    peer.start()
    try:
        check_forwarding(peer, image_body, image)
        wrk(peer.url, peer.headers, small, 8, 3)  # warm-up
        one = wrk(peer.url, peer.headers, small, 1, seconds)
        peer.lag()  # from here: the 32-client run only
        many = wrk(peer.url, peer.headers, small, 32, seconds)
        many_lag = peer.lag()
        imaged = wrk(peer.url, peer.headers, image_body, 8, seconds)
        image_lag = peer.lag()
        return {
            "one": one,
            "many": many,
            "image": imaged,
            "lag": {"many": many_lag, "image": image_lag},
            "ttfb": ttfb_ms(peer.url, peer.headers),
            "rss": peer.rss_mb(),
        }
    finally:
        peer.stop()


def memory_growth(peer: Peer, big_body: bytes) -> tuple[float, float]:
    """RSS growth (MB) while proxying one huge image request, on a fresh process."""
    peer.start()
    try:
        httpx.post(peer.url, headers=peer.headers, content=chat_body(), timeout=30)
        baseline = peer.rss_mb()
        httpx.post(peer.url, headers=peer.headers, content=big_body, timeout=120)
        return baseline, peer.rss_mb("VmHWM") - baseline
    finally:
        peer.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip-portkey", action="store_true")
    parser.add_argument(
        "--granian",
        action="store_true",
        help="also run Iris under granian (pip install granian) to compare ASGI servers",
    )
    parser.add_argument(
        "--config",
        action="store_true",
        help="also run each peer with its route given as a config (x-portkey-config: one "
        "target, no retry, no cache) instead of headers: what a config costs on the chat path",
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only measure memory growth with the 20 MB image (quick, for memory work)",
    )
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install wrk util-linux")

    image = jpeg_of_base64_size(750_000)
    small, image_body = chat_body(), chat_body(image)
    big = noise_png(20 * 1024 * 1024)
    big_body = chat_body(big, mime="image/png")
    print(
        f"image request: {len(image_body) / 1e6:.2f} MB body ({len(image) / 1e6:.2f} MB JPEG); "
        f"big: {len(big) / 1e6:.1f} MB PNG, {len(big_body) / 1e6:.1f} MB body",
        flush=True,
    )

    data_dir = Path(tempfile.mkdtemp(prefix="iris-bench-"))
    iris_env = {
        "IRIS_DATA_DIR": str(data_dir),
        "GATEWAY_ALLOW_PRIVATE_NETWORKS": "true",
        "IRIS_LOOP_LAG_PROBE": "1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env={**os.environ, **iris_env},
        check=True,
    )
    key = subprocess.run(
        [sys.executable, "manage.py", "create_api_key", "bench"],
        cwd=ROOT,
        env={**os.environ, **iris_env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    iris = Peer(
        "Iris",
        [sys.executable, "manage.py", "serve", "--port", str(GATEWAY_PORT)],
        iris_env,
        lag_dir=data_dir,
    )
    iris.headers["x-portkey-api-key"] = key
    peers = [iris]
    if args.granian:
        granian = Peer(
            "Iris on granian",
            [
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(GATEWAY_PORT),
                "--workers",
                "1",
                "--loop",
                "uvloop",
                "gateway.asgi:application",
            ],
            iris_env,
        )
        granian.headers["x-portkey-api-key"] = key
        peers.append(granian)
    portkey_server = BENCH / "portkey/node_modules/@portkey-ai/gateway/build/start-server.js"
    if not args.skip_portkey:
        if not portkey_server.exists():
            sys.exit("Portkey is not installed: npm ci --prefix bench/portkey")
        peers.append(
            Peer("Portkey", ["node", str(portkey_server), f"--port={GATEWAY_PORT}", "--headless"])
        )

    if args.config:
        peers += [with_config(peer) for peer in list(peers)]

    fake = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, str(BENCH / "fake_upstream.py"), str(FAKE_PORT)]
    )
    try:
        wait_for(f"http://127.0.0.1:{FAKE_PORT}/stats")
        if args.memory_only:
            for peer in peers:
                baseline, grown = memory_growth(peer, big_body)
                print(
                    f"{peer.name}: baseline {baseline:.0f} MB, growth {grown:.0f} MB "
                    f"({grown * 1024 * 1024 / len(big):.1f}× payload)"
                )
            return
        direct_url = f"http://127.0.0.1:{FAKE_PORT}/v1/chat/completions"
        direct = wrk(direct_url, {"content-type": "application/json"}, small, 1, args.seconds)
        direct_ttfb = ttfb_ms(direct_url, {})
        results = {}
        for peer in peers:
            print(f"measuring {peer.name}…", flush=True)
            results[peer.name] = measure(peer, args.seconds, small, image_body, image)
        growth = {p.name: memory_growth(p, big_body) for p in peers if not p.name.endswith(CONFIG)}
        growth |= {
            p.name: growth[p.name.removesuffix(CONFIG)] for p in peers if p.name.endswith(CONFIG)
        }
        report(direct, direct_ttfb, results, growth, len(big))

    finally:
        fake.terminate()
        shutil.rmtree(data_dir, ignore_errors=True)


CONFIG = " + config"


def with_config(peer: Peer) -> Peer:
    """The same server, routed by an inline config with one target and nothing else (no
    retry, no cache) instead of by x-portkey-provider and x-portkey-custom-host."""
    copy = Peer(peer.name + CONFIG, peer.command, peer.env, peer.lag_dir)
    routing = ("x-portkey-provider", "x-portkey-custom-host", "authorization")
    copy.headers = {k: v for k, v in peer.headers.items() if k not in routing}
    target = {
        "provider": "openai",
        "api_key": "sk-bench",
        "custom_host": peer.headers["x-portkey-custom-host"],
    }
    copy.headers["x-portkey-config"] = json.dumps(target)
    return copy


def report(direct: dict, direct_ttfb: float, results: dict, growth: dict, big: int) -> None:
    print(
        f"\nupstream alone: p50 {direct['p50']:.2f} ms, p99 {direct['p99']:.2f} ms at 1 client; "
        f"first byte of a stream {direct_ttfb:.2f} ms\n"
    )
    print(
        "| peer (1 core) | added p50 / p99, 1 client | req/s, p50 / p99 at 32 clients "
        "| req/s, p50 / p99 with 0.75 MB image at 8 | stream TTFB overhead | RSS after "
        "| RSS growth, 20 MB image |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        baseline, grown = growth[name]
        errors = sum(r[k]["errors"] for k in ("one", "many", "image"))
        print(
            f"| {name} | {r['one']['p50'] - direct['p50']:.2f} / "
            f"{r['one']['p99'] - direct['p99']:.2f} ms | {r['many']['rps']:.0f}, "
            f"{r['many']['p50']:.1f} / {r['many']['p99']:.1f} ms | {r['image']['rps']:.0f}, "
            f"{r['image']['p50']:.1f} / {r['image']['p99']:.1f} ms "
            f"| {r['ttfb'] - direct_ttfb:.2f} ms | {r['rss']:.0f} MB "
            f"| {grown:.0f} MB ({grown * 1024 * 1024 / big:.1f}× payload) |"
            + (f" ⚠ {errors} non-2xx" if errors else "")
        )
    for name, r in results.items():
        for scenario, label in (("many", "small at 32 clients"), ("image", "image at 8 clients")):
            if lag := r.get("lag", {}).get(scenario):
                print(
                    f"{name} event-loop lag, {label}: p50 {lag['p50_ms']:.1f} ms, "
                    f"p99 {lag['p99_ms']:.1f} ms, max {lag['max_ms']:.1f} ms "
                    f"({lag['count']} samples)"
                )


if __name__ == "__main__":
    main()
