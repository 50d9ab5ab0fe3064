"""A real Redis for the tests: Debian's `redis-server` on a free port, with nothing saved to
disk, started and stopped by the test run (CI installs it: .ci/run).

Without redis-server the tests that need it are skipped, or fail when IRIS_REQUIRE_REDIS=1
(as CI sets it), so a missing server cannot pass for a green run.
"""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import free_port


def ping(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis answers PING on the port (RESP spoken by hand: no client needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, executable: str, directory: Path) -> None:
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> "RedisServer":
        """Start it (again, on the same port after stop()) and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                *(self.executable, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
                *("--logfile", str(self.directory / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start: see {self.directory}/redis.log")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop it and wait until the port refuses connections."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def command(self, line: str) -> bytes:
        """One inline command's reply line ("+OK", ":3"), as redis-cli would send it."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(line.encode() + b"\r\n")
            return sock.recv(4096).split(b"\r\n")[0]

    def flush(self) -> None:
        """Forget every key, for a test that needs an empty cache."""
        assert self.command("FLUSHALL") == b"+OK"

    def size(self) -> int:
        """How many keys it holds (DBSIZE)."""
        return int(self.command("DBSIZE")[1:])


def redis_executable() -> str:
    """redis-server's path; skips the test without it, fails under IRIS_REQUIRE_REDIS=1."""
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if found:
        return found
    reason = "redis-server is not installed (Debian: apt-get install redis-server)"
    if os.environ.get("IRIS_REQUIRE_REDIS") == "1":
        pytest.fail(f"{reason}, and IRIS_REQUIRE_REDIS=1 requires it")
    pytest.skip(reason)


@contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    """A fresh Redis for the duration of the block, stopped after (even on failure)."""
    server = RedisServer(redis_executable(), directory).start()
    try:
        yield server
    finally:
        server.stop()
