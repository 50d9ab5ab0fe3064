"""The gateways under test (Iris, Portkey, LiteLLM) as processes the benchmark starts, pins,
measures (CPU seconds and peak RSS of the whole process tree, from /proc) and stops."""

import contextlib
import json
import os
import re
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
# BENCH_PORT_BASE moves all three (several benchmarks on one machine must not share ports).
PORT_BASE = int(os.environ.get("BENCH_PORT_BASE", "9300"))
FAKE_PORT, GATEWAY_PORT, IMAGE_PORT = PORT_BASE, PORT_BASE + 1, PORT_BASE + 2
PORTKEY_SERVER = BENCH / "portkey/node_modules/@portkey-ai/gateway/build/start-server.js"
LITELLM = BENCH / ".litellm-venv/bin/litellm"
LITELLM_MASTER_KEY = "sk-bench-master"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# What each peer does with an image given by URL (its numbers are not comparable blindly).
URL_HANDLING = {
    "Iris": "forwards the URL and fetches a snapshot for the log after answering",
    "Iris (inline URLs)": "fetches the URL before forwarding and sends its bytes as base64 "
    "(GATEWAY_INLINE_IMAGE_URLS=1)",
    "Portkey": "forwards the URL to OpenAI-style upstreams without fetching it",
    "LiteLLM": "forwards the URL to OpenAI-style upstreams without fetching it",
}


class Peer:
    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict | None = None,
        *,
        cores: str = "0",
        lag_dir: Path | None = None,
    ) -> None:
        self.name, self.command, self.env, self.cores = name, command, env or {}, cores
        self.lag_dir = lag_dir  # where Iris writes its loop-lag histogram (IRIS_LOOP_LAG_PROBE)
        self.url = f"http://127.0.0.1:{GATEWAY_PORT}/v1/chat/completions"
        self.headers = {
            "x-portkey-provider": "openai",
            "authorization": "Bearer sk-bench",
            "x-portkey-custom-host": f"http://127.0.0.1:{FAKE_PORT}/v1",
            "content-type": "application/json",
        }
        self.process: subprocess.Popen | None = None
        self.cleanup: list[Path] = []  # data folders removed at the end of the run

    def start(self) -> None:
        ensure_free(GATEWAY_PORT)
        self.process = subprocess.Popen(
            ["taskset", "-c", self.cores, *self.command],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.url.replace("/v1/chat/completions", "/"), any_status=True, process=self)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def pids(self) -> list[int]:
        """The server's process and all its descendants (uvicorn's workers)."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the live process tree."""
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLOCK_TICKS

    def reset_peak_rss(self) -> None:
        """Start VmHWM afresh (Linux: writing 5 to clear_refs), so a peak is one run's."""
        for pid in self.pids():
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")

    def peak_rss_mb(self) -> float:
        """VmHWM summed over the tree (an upper bound of the peak when there are workers)."""
        return sum(self._status_kb(pid, "VmHWM") for pid in self.pids()) / 1024

    def rss_mb(self) -> float:
        return sum(self._status_kb(pid, "VmRSS") for pid in self.pids()) / 1024

    @staticmethod
    def _status_kb(pid: int, field: str) -> int:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return 0
        match = re.search(rf"{field}:\s+(\d+)", status)
        return int(match[1]) if match else 0

    def lag(self) -> dict | None:
        """The event-loop lag since the last call (Iris resets its histogram), one worker."""
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


def ensure_free(port: int) -> None:
    """Refuse a port someone else listens on: we would measure their server."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is taken by another process: set BENCH_PORT_BASE")


def wait_for(url: str, any_status: bool = False, process: Peer | None = None) -> None:
    for _ in range(600):
        if process and process.process.poll() is not None:
            raise RuntimeError(f"{process.name} exited with {process.process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200 or any_status:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def iris(name: str, *, workers: int = 1, cores: str = "0", extra_env: dict | None = None) -> Peer:
    """Iris with logging on, in a fresh data folder (SQLite, blobs on disk)."""
    data_dir = Path(tempfile.mkdtemp(prefix="iris-bench-"))
    env = {
        "IRIS_DATA_DIR": str(data_dir),
        "GATEWAY_ALLOW_PRIVATE_NETWORKS": "true",  # the fake upstream and image host: 127.0.0.1
        "IRIS_LOOP_LAG_PROBE": "1" if workers == 1 else "0",
        **(extra_env or {}),
    }
    manage = [sys.executable, "manage.py"]
    run_env = {**os.environ, **env}
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=run_env, check=True)
    key = subprocess.run(
        [*manage, "create_api_key", "bench"],
        cwd=ROOT,
        env=run_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    command = [*manage, "serve", "--port", str(GATEWAY_PORT), "--workers", str(workers)]
    peer = Peer(name, command, env, cores=cores, lag_dir=data_dir if workers == 1 else None)
    peer.headers["x-portkey-api-key"] = key
    peer.cleanup.append(data_dir)
    return peer


def forget_blobs(peer: Peer) -> None:
    """Empty Iris's blob folder between scenarios: distinct images fill the disk otherwise."""
    if "IRIS_DATA_DIR" in peer.env:
        shutil.rmtree(Path(peer.env["IRIS_DATA_DIR"]) / "blobs", ignore_errors=True)


def portkey() -> Peer:
    if not PORTKEY_SERVER.exists():
        sys.exit("Portkey is not installed: npm ci --prefix bench/portkey (or --skip-portkey)")
    return Peer("Portkey", ["node", str(PORTKEY_SERVER), f"--port={GATEWAY_PORT}", "--headless"])


def litellm() -> Peer | None:
    """LiteLLM's proxy from its own venv (see install_litellm), one uvicorn worker, no DB."""
    if not LITELLM.exists():
        return None
    folder = Path(tempfile.mkdtemp(prefix="litellm-bench-"))
    config = folder / "config.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: gpt-4o\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o\n"
        "      api_base: os.environ/BENCH_UPSTREAM\n"
        "      api_key: sk-bench\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
    )
    env = {
        "LITELLM_MASTER_KEY": LITELLM_MASTER_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # else it downloads its cost map at import
        "BENCH_UPSTREAM": f"http://127.0.0.1:{FAKE_PORT}/v1",
        "LITELLM_LOG": "ERROR",
    }
    command = [str(LITELLM), "--config", str(config), "--port", str(GATEWAY_PORT)]
    command += ["--host", "127.0.0.1", "--num_workers", "1"]
    peer = Peer("LiteLLM", command, env)
    peer.headers = {
        "authorization": f"Bearer {LITELLM_MASTER_KEY}",
        "content-type": "application/json",
    }
    peer.cleanup.append(folder)
    return peer


def install_litellm(version: str = "1.108.7") -> bool:
    """Install LiteLLM's proxy into bench/.litellm-venv (git-ignored), once."""
    if LITELLM.exists():
        return True
    venv = BENCH / ".litellm-venv"
    print(f"installing litellm[proxy]=={version} into {venv} …", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin/pip"), "install", "-q", f"litellm[proxy]=={version}"]
    return subprocess.run(pip).returncode == 0 and LITELLM.exists()
