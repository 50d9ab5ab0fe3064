import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image as PILImage

from tests.fakes import openai as fake_openai_handler
from tests.fakes.server import FakeServer

# fake_anthropic, fake_azure, fake_bedrock, fake_gemini, fake_responses (module-scoped)
pytest_plugins = ["tests.fakes.fixtures"]

ROOT = Path(__file__).resolve().parents[1]
SHARED_IMAGES = ROOT.parent / "shared" / "images"


@pytest.fixture(autouse=True)
def _gateway_settings(settings, tmp_path):
    # Fake upstreams and image hosts listen on 127.0.0.1; the guard's own tests turn this off.
    settings.GATEWAY_ALLOW_PRIVATE_NETWORKS = True
    settings.LOG_SPOOL_DIR = tmp_path / "spool"


@pytest.fixture(autouse=True)
def _forget_keys_last_used():
    """The log writer writes a key's last_used_at at most once a minute per process
    (gateway/log/entry.py): each test starts with none written, as key ids are reused."""
    yield
    from gateway.log import entry

    entry._key_written.clear()


@pytest.fixture(autouse=True)
def _quiet_log_writer_before_flush(request):
    """A transactional test ends by emptying every table (TRUNCATE on PostgreSQL). The
    process's log writer may be inserting then (a record this test's requests submitted, a
    dead journal replayed, a retention purge), and TRUNCATE against its transaction can
    deadlock (seen once in CI). Stop it first; the next submit starts it again. Requesting
    transactional_db here orders this teardown before the database's."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction", False)
    )
    if not transactional:
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    from gateway.log import writer

    writer.drain(timeout=30)


@pytest.fixture
def written_logs(transactional_db):
    """For tests that send requests in-process: every log record is written before the
    test's database goes away (the writer is a background thread)."""
    from gateway.log import writer

    yield writer.flush
    writer.flush()


@pytest.fixture
def blob_dir(settings, tmp_path):
    """Blob storage in a fresh folder (Django resets default_storage when STORAGES changes)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "blobs")},
        },
    }
    return tmp_path / "blobs"


def png_bytes(size=(4, 3), color=(200, 30, 30), mode="RGB", fmt="PNG", **save) -> bytes:
    out = io.BytesIO()
    PILImage.new(mode, size, color if mode != "L" else 128).save(out, fmt, **save)
    return out.getvalue()


@pytest.fixture
def tiny_png() -> bytes:
    return png_bytes()


@pytest.fixture
def tiny_jpeg() -> bytes:
    return png_bytes(size=(5, 7), fmt="JPEG")


@pytest.fixture(scope="session")
def fake_openai():
    with FakeServer(fake_openai_handler.handle) as server:
        yield server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_server_databases: list[str] = []


def own_database(url: str, name: str) -> str:
    """On PostgreSQL, a fresh database for one server: its rows and its blob folder must
    belong together (a shared database would list images another server stored)."""
    import psycopg

    base = url.rsplit("/", 1)[0]
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    _server_databases.append(name)
    return f"{base}/{name}"


@pytest.fixture(scope="session", autouse=True)
def _drop_server_databases():
    yield
    import psycopg

    for name in _server_databases:
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class IrisServer:
    """A real Iris: `manage.py serve` in a subprocess, with its own data folder."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        database = os.environ.get("DATABASE_URL", "")
        if database.startswith("postgres") and "DATABASE_URL" not in env:
            env["DATABASE_URL"] = own_database(database, f"iris_server_{self.port}")
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "IRIS_DATA_DIR": str(data_dir),
            "GATEWAY_ALLOW_PRIVATE_NETWORKS": "true",
            "GATEWAY_UPSTREAM_TIMEOUT": "30",
            "GATEWAY_IMAGE_FETCH_TIMEOUT": "2",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.log_path = data_dir / "server.log"
        self.log_file = open(self.log_path, "a")  # noqa: SIM115
        self.process: subprocess.Popen | None = None
        self.key = ""
        self.serve_args: list[str] = []  # e.g. ["--workers", "2"]

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def start(self) -> "IrisServer":
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(self.port), *self.serve_args],
            cwd=ROOT,
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Iris exited: {(self.log_file.name)}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("Iris did not start")
        if not self.key:
            self.key = self.manage("create_api_key", "tests", "--read-logs")
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout)

    def headers(self, **extra: str) -> dict[str, str]:
        return {"x-portkey-api-key": self.key, **extra}

    def logs(self, **params) -> dict:
        response = httpx.get(f"{self.url}/v1/logs", params=params, headers=self.headers())
        response.raise_for_status()
        return response.json()

    def find_logs(self, timeout: float = 10.0, **params) -> list[dict]:
        """Log rows matching the filters, waiting for the background writer to write some."""
        deadline = time.monotonic() + timeout
        while not (rows := self.logs(**params)["data"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        return rows

    def log(self, request_id: str, timeout: float = 10.0, **params) -> dict:
        """The full log record of one request, waiting for the background writer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.logs(request_id=request_id)["data"]
            if rows:
                response = httpx.get(
                    f"{self.url}/v1/logs/{rows[0]['id']}", params=params, headers=self.headers()
                )
                response.raise_for_status()
                return response.json()
            time.sleep(0.05)
        raise AssertionError(f"no log for request {request_id}")


@pytest.fixture(scope="session")
def iris(tmp_path_factory):
    server = IrisServer(tmp_path_factory.mktemp("iris")).start()
    yield server
    server.stop()


@pytest.fixture
def quick_log(settings, tmp_path, blob_dir):
    """The log writer without its lingering, its spool in the test's folder."""
    settings.LOG_SPOOL_DIR = tmp_path / "spool"
    settings.LOG_FLUSH_SECONDS = 0.01
    settings.LOG_FSYNC_SECONDS = 0.01


@pytest.fixture
def writer():
    """A log writer of the test's own, drained at the end."""
    from gateway.log.pipeline import Writer

    w = Writer()
    yield w
    w.drain(timeout=5)


@pytest.fixture
def held_journal(monkeypatch):
    """The log's journal thread stopped inside write_ahead (holding the record it took) until
    `release` is set: (inside, release) events."""
    import threading

    from gateway.log import blobs

    inside, release = threading.Event(), threading.Event()
    real = blobs.write_ahead

    def write_ahead(found):
        inside.set()
        assert release.wait(30), "the test never let the journal thread go"
        return real(found)

    monkeypatch.setattr(blobs, "write_ahead", write_ahead)
    yield inside, release
    release.set()
