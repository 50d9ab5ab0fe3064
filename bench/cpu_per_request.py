"""CPU seconds Iris spends per proxied request: robust to a loaded machine, unlike req/s.

    .venv/bin/python bench/cpu_per_request.py [--clients 32] [--seconds 10] [--body FILE]
        [--profile out.txt] [--threads] [--server-cmd "..."]

Starts the fake upstream (bench/fake_upstream.py) and one Iris (`manage.py serve`, logging
on, a fresh IRIS_DATA_DIR, a gateway key) pinned to core 0; wrk and the upstream on core 1.
After a warm-up it sends the small chat body (or --body) for --seconds and reports the
whole Iris process's CPU (utime+stime of every thread, from /proc/<pid>/stat) per request,
req/s and wrk's p50/p99. --threads adds each thread's share (event loop vs the log writer's
journal and database threads). --profile runs py-spy (pip install py-spy) on Iris during the
run and writes its per-function table (self and total %) to the file given.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
TICKS = os.sysconf("SC_CLK_TCK")
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = io.open(os.getenv("BENCH_BODY"), "rb"):read("*a")
for name, value in string.gmatch(os.getenv("BENCH_HEADERS"), "([^\\n:]+): ([^\\n]+)") do
  wrk.headers[name] = value
end
"""
SMALL = json.dumps(
    {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What is in it?"}]}],
    }
).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def family(pid: int) -> list[int]:
    """The process and its descendants (a server's worker processes, e.g. granian's)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process and its children (all threads), in seconds."""
    return sum(user + system for user, system in thread_cpu(pid).values())


def thread_cpu(pid: int) -> dict[str, tuple[float, float]]:
    """(user, system) CPU seconds per thread of the process and its descendants, keyed
    "name/tid" (the log writer's threads name themselves: iris-log-journa(l), iris-log-db)."""
    out = {}
    for process in family(pid):
        try:
            tasks = list(Path(f"/proc/{process}/task").iterdir())
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                stat = (task / "stat").read_text()
            except FileNotFoundError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat.rsplit(")", 1)[1].split()
            main = task.name == str(process)
            label = f"{name} main/{task.name}" if main else f"{name}/{task.name}"
            out[label] = (int(fields[11]) / TICKS, int(fields[12]) / TICKS)
    return out


def wait_for(url: str) -> None:
    for _ in range(600):
        try:
            httpx.get(url, timeout=1)
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
        command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{clients}", f"-d{seconds}s"]
        out = subprocess.run(
            [*command, "--latency", "-s", script.name, url],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    done = re.search(r"(\d+) requests in", out)
    if not done or not re.search(r"50%\s+[\d.]+\w", out):
        raise RuntimeError(f"wrk measured nothing against {url}:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(done[1]),
        "rps": float(re.search(r"Requests/sec:\s+(\S+)", out)[1]),
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M)[1]),
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M)[1]),
        "errors": int(errors[1]) if errors else 0,
    }


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before measuring")
    parser.add_argument("--body", type=Path, help="request body file (default: a small chat)")
    parser.add_argument("--profile", type=Path, help="write py-spy's per-function table here")
    parser.add_argument("--threads", action="store_true", help="CPU per thread too")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--server-cmd",
        help="serve Iris with this command instead of `manage.py serve` ({port} is replaced)",
    )
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for Iris")
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install wrk util-linux")
    body = args.body.read_bytes() if args.body else SMALL
    fake_port, iris_port = free_port(), free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="iris-cpu-"))
    env = {
        **os.environ,
        "IRIS_DATA_DIR": str(data_dir),
        "GATEWAY_ALLOW_PRIVATE_NETWORKS": "true",
        **dict(pair.split("=", 1) for pair in args.env),
    }
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    key = subprocess.run(
        [py, "manage.py", "create_api_key", "cpu-bench"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    command = (
        shlex.split(args.server_cmd.format(port=iris_port))
        if args.server_cmd
        else [py, "manage.py", "serve", "--port", str(iris_port)]
    )
    fake = subprocess.Popen(
        ["taskset", "-c", "1", py, str(BENCH / "fake_upstream.py"), str(fake_port)]
    )
    iris = subprocess.Popen(
        ["taskset", "-c", "0", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    spy = None
    try:
        wait_for(f"http://127.0.0.1:{fake_port}/stats")
        wait_for(f"http://127.0.0.1:{iris_port}/healthz")
        url = f"http://127.0.0.1:{iris_port}/v1/chat/completions"
        headers = {
            "x-portkey-provider": "openai",
            "authorization": "Bearer sk-bench",
            "x-portkey-custom-host": f"http://127.0.0.1:{fake_port}/v1",
            "x-portkey-api-key": key,
            "content-type": "application/json",
        }
        check = httpx.post(url, headers=headers, content=body, timeout=60)
        if check.status_code != 200:
            sys.exit(f"Iris answered {check.status_code}: {check.text[:500]}")
        if args.warmup:
            wrk(url, headers, body, args.clients, args.warmup)
        if args.profile:
            spy = subprocess.Popen(
                [
                    str(Path(py).parent / "py-spy"),
                    "record",
                    "--subprocesses",
                    "--pid",
                    str(iris.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "250",
                    "--threads",
                    "--output",
                    str(args.profile) + ".folded",
                    "--duration",
                    str(args.seconds),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        threads_before, before = thread_cpu(iris.pid), cpu_seconds(iris.pid)
        result = wrk(url, headers, body, args.clients, args.seconds)
        after, threads_after = cpu_seconds(iris.pid), thread_cpu(iris.pid)
        result["cpu_ms_per_request"] = (after - before) * 1000 / max(result["requests"], 1)
        result["cpu_seconds"] = after - before
        if args.threads:
            per = 1000 / max(result["requests"], 1)
            split = {
                name: (
                    (user - threads_before.get(name, (0, 0))[0]) * per,
                    (system - threads_before.get(name, (0, 0))[1]) * per,
                )
                for name, (user, system) in threads_after.items()
            }
            result["threads_ms_per_request"] = {
                name: round(user + system, 4)
                for name, (user, system) in split.items()
                if user + system > 0
            }
            result["threads_user_system_ms"] = {
                name: [round(user, 4), round(system, 4)]
                for name, (user, system) in split.items()
                if user + system > 0
            }
        if spy is not None:
            spy.wait(args.seconds + 60)
            summarize(Path(str(args.profile) + ".folded"), args.profile)
        if args.json:
            print(json.dumps(result, indent=1))
        else:
            print(
                f"{len(body)} B body, {args.clients} clients, {args.seconds} s: "
                f"{result['requests']} requests, {result['rps']:.0f} req/s, "
                f"p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms, "
                f"{result['errors']} non-2xx; Iris CPU {result['cpu_seconds']:.2f} s = "
                f"{result['cpu_ms_per_request']:.3f} ms per request"
            )
            for name, ms in sorted(
                result.get("threads_ms_per_request", {}).items(), key=lambda kv: -kv[1]
            ):
                user, system = result["threads_user_system_ms"][name]
                print(f"  {name}: {ms:.3f} ms per request (user {user:.3f}, system {system:.3f})")
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
        iris.send_signal(signal.SIGTERM)
        try:
            iris.wait(60)
        except subprocess.TimeoutExpired:
            iris.kill()
        fake.terminate()
        fake.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)


def summarize(folded: Path, out: Path, top: int = 60) -> None:
    """py-spy's raw (folded) stacks as a table: per function, % of samples on top of the
    stack (self) and anywhere in it (total)."""
    own: dict[str, int] = {}
    anywhere: dict[str, int] = {}
    samples = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        samples += n
        frames = stack.split(";")
        leaf = frames[-1]
        own[leaf] = own.get(leaf, 0) + n
        for frame in set(frames):
            anywhere[frame] = anywhere.get(frame, 0) + n
    lines = [f"{samples} samples; self% total% function"]
    for name, n in sorted(anywhere.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * own.get(name, 0) / samples:6.1f} {100 * n / samples:6.1f}  {name}")
    lines.append("\nby self time:")
    for name, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * n / samples:6.1f} {100 * anywhere[name] / samples:6.1f}  {name}")
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
