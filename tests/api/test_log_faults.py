"""Issue 12, observations 1, 2 and 7 against a real server: nested bodies cannot stop the
log or slip past it, and a blob file cut short is repaired. (Disks and the database:
test_log_outages.py; SIGKILL: test_log_sigkill.py.)"""

import asyncio
import hashlib
import sqlite3

import httpx

from gateway.models import blob_name
from tests.api.test_log_durability import count_logs, fire
from tests.conftest import SHARED_IMAGES, IrisServer
from tests.faults import healthz, image_body, nested_body, proxy_headers


def sqlite_server(tmp_path, **env) -> IrisServer:
    return IrisServer(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'iris.sqlite3'}", **env)


def test_a_body_nested_1000_deep_is_refused_logged_and_the_next_request_logged_too(
    tmp_path, fake_openai
):
    server = sqlite_server(tmp_path).start()
    try:
        headers = server.headers(
            **{
                "x-portkey-provider": "@nope",  # no upstream needed: the slug is unknown
                "x-portkey-trace-id": "deep-1000",
                "content-type": "application/json",
            }
        )
        r = httpx.post(
            f"{server.url}/v1/chat/completions",
            content=nested_body(1000, "deep"),
            headers=headers,
            timeout=30,
        )
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "json_too_deep"
        record = server.log(r.headers["x-iris-request-id"])
        assert record["status_code"] == 400
        assert record["trace_id"] == "deep-1000"

        # The writer is still writing: later requests are logged.
        statuses = asyncio.run(fire(server, f"{fake_openai.url}/v1", 5, "after-deep"))
        assert statuses == [200] * 5
        server.find_logs(trace_id="after-deep")
        for _ in range(100):
            if count_logs(server, "after-deep") == 5:
                break
            asyncio.run(asyncio.sleep(0.1))
        assert count_logs(server, "after-deep") == 5
        status, health = healthz(server)
        log = health["log_writer"]
        assert status == 200, health
        assert log["writer_alive"] is True
        assert log["loop_restarts"] == 0
        assert log["set_aside"] == 0
    finally:
        server.stop()


def test_bodies_nested_300_deep_are_refused_before_the_upstream_and_logged(tmp_path, fake_openai):
    server = sqlite_server(tmp_path).start()
    try:
        headers = proxy_headers(server, f"{fake_openai.url}/v1", "deep-300")
        headers["content-type"] = "application/json"
        ids = []
        for i in range(5):
            r = httpx.post(
                f"{server.url}/v1/chat/completions",
                content=nested_body(300, f"deep-300-{i}"),
                headers=headers,
                timeout=30,
            )
            assert r.status_code == 400, r.text
            assert r.json()["error"]["code"] == "json_too_deep"
            ids.append(r.headers["x-iris-request-id"])
        for request_id in ids:
            assert server.log(request_id)["status_code"] == 400
        assert not any(b"deep-300-" in received.body for received in fake_openai.received)
        spool = tmp_path / "spool"
        assert not list(spool.rglob("*.failed"))
        assert not list((spool / "failed").glob("*")) if (spool / "failed").exists() else True
        assert healthz(server)[1]["log_writer"]["set_aside"] == 0
    finally:
        server.stop()


def _send_image(server: IrisServer, upstream: str, image: bytes, trace: str) -> str:
    r = httpx.post(
        f"{server.url}/v1/chat/completions",
        json=image_body(image, trace),
        headers=proxy_headers(server, upstream, trace),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.headers["x-iris-request-id"]


def test_a_blob_cut_short_is_repaired_the_next_time_its_bytes_pass(tmp_path, fake_openai):
    server = sqlite_server(tmp_path).start()
    upstream = f"{fake_openai.url}/v1"
    try:
        # As the issue saw it: the Blob row exists, its file was cut short by a full disk.
        coffee = (SHARED_IMAGES / "coffee.png").read_bytes()
        coffee_sha = hashlib.sha256(coffee).hexdigest()
        coffee_file = tmp_path / "blobs" / blob_name(coffee_sha)
        server.log(_send_image(server, upstream, coffee, "blob-first"))
        assert coffee_file.read_bytes() == coffee
        coffee_file.write_bytes(coffee[: len(coffee) // 2])

        # And a file cut short with no row at all (the process died after the write).
        rocket = (SHARED_IMAGES / "rocket.jpg").read_bytes()
        rocket_sha = hashlib.sha256(rocket).hexdigest()
        rocket_file = tmp_path / "blobs" / blob_name(rocket_sha)
        rocket_file.parent.mkdir(parents=True, exist_ok=True)
        rocket_file.write_bytes(rocket[:1000])

        server.log(_send_image(server, upstream, coffee, "blob-again"))
        server.log(_send_image(server, upstream, rocket, "blob-rocket"))
        repaired = ((coffee, coffee_sha, coffee_file), (rocket, rocket_sha, rocket_file))
        for data, sha, path in repaired:
            assert path.stat().st_size == len(data)
            assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
        with sqlite3.connect(tmp_path / "iris.sqlite3") as db:
            sizes = dict(db.execute("SELECT sha256, size FROM gateway_blob"))
        assert sizes == {coffee_sha: len(coffee), rocket_sha: len(rocket)}
        assert not list(tmp_path.glob("blobs/images/*/.*.partial"))
    finally:
        server.stop()
