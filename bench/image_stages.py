"""What one request carrying a ~1.38 MB base64 JPEG costs Iris, in CPU, by stage, and its
peak RSS. CPU seconds per request (from /proc/<pid>/stat) hold up while other work loads the
machine; wall req/s does not, so this script reports CPU, and the stage shares py-spy sees.

    .venv/bin/python bench/image_stages.py [--seconds 15] [--clients 8] [--distinct] [--profile]

Iris (one worker, logging on) is pinned to core 0; the fake upstream and wrk to core 1.
Printed: CPU per request split by thread (user/system; thread names from py-spy dump), minor
page faults per request (fresh memory touched), peak RSS (VmHWM). --env NAME=VALUE tries an
environment (e.g. MALLOC_ARENA_MAX=2) on Iris; --base64-bytes 0 sends a text-only body.
--distinct gives each request a different image (as bench/run.py's scenarios do: 4 base64
characters of padding after the JPEG's end vary), so each is hashed and written anew.
--profile samples Iris with py-spy (all threads, idle excluded) and splits its samples into
the stages of the request path, by the innermost frame of ours (or the library) they are in.
"""

import argparse
import collections
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scenarios
from load import Body
from run import BENCH, FAKE_PORT, GATEWAY_PORT, PHOTO, ROOT, WRK_SCRIPT, Peer, chat_body, wait_for

TICK = os.sysconf("SC_CLK_TCK")

# (stage, pattern on a frame "function (file)"), first match from the innermost frame outwards.
STAGES = [
    ("base64 decode", r"b64decode|a2b_base64"),
    ("sha256", r"sha256|hexdigest|_hash_file|hashlib"),
    ("sniff (Pillow)", r"\bsniff\b|open_image|PIL/"),
    ("JSON parse (orjson)", r"_parse \(gateway/chat.py\)|_lift_data_uris|loads"),
    ("body read (asgi/django)", r"read_body|httptools|on_body|receive \(|h11_impl|SpooledTemp"),
    ("upstream send (aiohttp)", r"aiohttp/|_payload|slices|\bsend \(gateway/proxy"),
    ("upstream body build", r"build_request|body_bytes|dumps"),
    ("journal/blob write", r"gateway/log/journal|gateway/log/blobs|storage|files/storage"),
    ("record/rows building", r"gateway/log/(record|rows|entry|answered|outputs)"),
    ("DB insert", r"django/db|sqlite3|psycopg"),
    ("log writer (other)", r"gateway/log/"),
    ("response / django", r"django/|asgiref"),
    ("uvicorn/asyncio loop", r"uvicorn|asyncio|uvloop"),
]


def minor_faults(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def thread_names(pid: int) -> dict[str, str]:
    """Python's thread names by native id (py-spy dump: 3.11 gives the OS no names)."""
    spy = str(Path(sys.executable).parent / "py-spy")
    dump = subprocess.run([spy, "dump", "--nonblocking", "-p", str(pid)], capture_output=True)
    found = re.findall(r'Thread (\d+) \(\w+\): "([^"]*)"', dump.stdout.decode())
    return {tid: re.sub(r"[-_]\d+(_\d+)?$", "", name) for tid, name in found}


def thread_cpu(pid: int, names: dict[str, str]) -> dict[str, list[float]]:
    """[user, system] CPU seconds by thread name (threads of a pool summed)."""
    by_name: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(task.name, "(no Python name)")
        by_name[name][0] += int(fields[11]) / TICK
        by_name[name][1] += int(fields[12]) / TICK
    return by_name


def status_kb(pid: int, field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())[1])


def upstream_requests() -> int:
    return httpx.get(f"http://127.0.0.1:{FAKE_PORT}/stats").json()["requests"]


def run_wrk(peer: Peer, body: Body, clients: int, seconds: int) -> None:
    with tempfile.NamedTemporaryFile(suffix=".json") as body_file:
        body_file.write(body.data)
        body_file.flush()
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(WRK_SCRIPT)
            script.flush()
            env = {
                **os.environ,
                "BENCH_BODY": body_file.name,
                "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in peer.headers.items()),
            }
            if body.vary_at is not None:  # the Lua script numbers each request's image
                env["BENCH_VARY"] = str(body.vary_at + 1)
            command = ["taskset", "-c", "1", "wrk", f"-t{min(clients, 2)}", f"-c{clients}"]
            command += [f"-d{seconds}s", "-s", script.name, peer.url]
            subprocess.run(command, env=env, check=True, capture_output=True)


def jpeg_of_base64_size(target: int) -> bytes:
    """The photo upscaled 2x and re-encoded so its base64 is about `target` bytes (run.py's
    1.5x cannot reach 1.38 MB)."""
    from PIL import Image

    photo = Image.open(PHOTO).convert("RGB")
    photo = photo.resize((photo.width * 2, photo.height * 2))
    best = b""
    for quality in range(50, 100):
        out = io.BytesIO()
        photo.save(out, "JPEG", quality=quality)
        if len(out.getvalue()) * 4 // 3 > target:
            break
        best = out.getvalue()
    return best


def stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):  # innermost last in py-spy's raw (collapsed) output
        for stage, pattern in STAGES:
            if re.search(pattern, frame):
                return stage
    return "other"


def split_profile(path: Path) -> dict[str, int]:
    counts: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        counts[stage_of(stack.split(";"))] += int(count)
    return dict(counts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--base64-bytes", type=int, default=1_380_000)
    parser.add_argument(
        "--distinct", action="store_true", help="a different image in each request (run.py's)"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the run, split by stage")
    parser.add_argument("--top", type=int, default=0, help="also print the N hottest leaves")
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for Iris's environment (trials)"
    )
    args = parser.parse_args()

    if args.base64_bytes:
        image = jpeg_of_base64_size(args.base64_bytes)
        body = scenarios.base64_body(image, "image/jpeg", vary=args.distinct)
    else:
        body = Body(chat_body(None))
    print(f"body: {len(body.data) / 1e6:.2f} MB, distinct images: {args.distinct}", flush=True)
    data_dir = Path(tempfile.mkdtemp(prefix="iris-stages-"))
    env = {"IRIS_DATA_DIR": str(data_dir), "GATEWAY_ALLOW_PRIVATE_NETWORKS": "true"}
    env |= dict(pair.split("=", 1) for pair in args.env)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env={**os.environ, **env}, check=True)
    key = subprocess.run(
        [*manage, "create_api_key", "bench"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    fake = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, str(BENCH / "fake_upstream.py"), str(FAKE_PORT)]
    )
    iris = Peer("Iris", [*manage, "serve", "--port", str(GATEWAY_PORT)], env)
    iris.headers["x-portkey-api-key"] = key
    try:
        wait_for(f"http://127.0.0.1:{FAKE_PORT}/stats")
        iris.start()
        pid = iris.process.pid
        started_kb = status_kb(pid, "VmRSS")
        run_wrk(iris, body, args.clients, 3)  # warm up
        spy = None
        raw = data_dir / "profile.txt"
        if args.profile:
            spy_cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "-f", "raw"]
            spy_cmd += ["--threads", "--native", "-r", "250", "-p", str(pid), "-o", str(raw)]
            spy_cmd += ["-d", str(args.seconds + 1)]
            spy = subprocess.Popen(spy_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        names = thread_names(pid)
        threads0 = thread_cpu(pid, names)
        cpu0, n0, t0 = cpu_seconds(pid), upstream_requests(), time.monotonic()
        faults0 = minor_faults(pid)
        run_wrk(iris, body, args.clients, args.seconds)
        cpu1, n1, t1 = cpu_seconds(pid), upstream_requests(), time.monotonic()
        requests = max(n1 - n0, 1)
        threads1 = thread_cpu(pid, names | thread_names(pid))
        for name, (user, system) in sorted(threads1.items()):
            before = threads0.get(name, [0.0, 0.0])
            user = 1000 * (user - before[0]) / requests
            system = 1000 * (system - before[1]) / requests
            if user + system > 0.005:
                print(f"  thread {name:24s} user {user:.2f} ms  system {system:.2f} ms per request")
        print(
            f"requests {requests}, {requests / (t1 - t0):.0f} req/s wall (noisy), "
            f"CPU {1000 * (cpu1 - cpu0) / requests:.2f} ms/request, "
            f"peak RSS (VmHWM) {status_kb(pid, 'VmHWM') / 1024:.0f} MB "
            f"(at start {started_kb / 1024:.0f} MB), "
            f"RSS now {status_kb(pid, 'VmRSS') / 1024:.0f} MB, "
            f"threads {status_kb(pid, 'Threads')}, "
            f"minor page faults {(minor_faults(pid) - faults0) / requests:.0f}/request",
            flush=True,
        )
        if spy is not None:
            spy.wait()
            stages = split_profile(raw)
            total = sum(stages.values())
            ms = 1000 * (cpu1 - cpu0) / requests
            for stage, count in sorted(stages.items(), key=lambda kv: -kv[1]):
                print(f"  {stage:28s} {100 * count / total:5.1f} %  ~{ms * count / total:.2f} ms")
            if args.top:
                leaves: collections.Counter[str] = collections.Counter()
                for line in raw.read_text().splitlines():
                    stack, _, count = line.rpartition(" ")
                    leaves[";".join(stack.split(";")[-3:])] += int(count)
                for leaf, count in leaves.most_common(args.top):
                    print(f"  {100 * count / total:5.1f} % {leaf}")
    finally:
        iris.stop()
        fake.terminate()


if __name__ == "__main__":
    main()
