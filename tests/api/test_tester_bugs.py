"""Bugs the tester found in this session's changes, each a failing test over real sockets to a
real Iris (see the tester's report). Not committed by the tester: the lead decides."""

import signal
import time

import httpx
import openai

from tests.api.test_body_in_flight import answer
from tests.api.test_gemini_e2e import vision
from tests.api.test_lead_changes_hardening import ROCKET, post, to_openai, until
from tests.conftest import IrisServer
from tests.fakes.server import FakeServer, Reply


def test_a_stalled_body_at_sigterm_is_logged_once_and_not_as_a_client_that_left(
    tmp_path, fake_openai
):
    """927ce9b: at SIGTERM a body still being read is not cut at the grace; uvicorn cancels
    it at timeout_graceful_shutdown; the client gets uvicorn's plain-text 500, the fast path
    logs it as 499 client_disconnected and the Django handler's endpoints do not log it."""
    server = IrisServer(
        tmp_path, GATEWAY_BODY_READ_SECONDS="60", GATEWAY_SHUTDOWN_GRACE_SECONDS="1"
    ).start()
    head = to_openai(fake_openai.url, **{"content-length": "5000", "x-portkey-trace-id": "term"})
    chat = post(server, "/v1/chat/completions", head, b'{"model": "gpt-4o"')
    responses = post(server, "/v1/responses", head, b'{"model": "gpt-4o"')
    time.sleep(0.3)  # both are waiting for the rest of their body
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(30)
    chat.settimeout(1)
    answered = chat.recv(65536)
    chat.close()
    responses.close()
    server.start()  # the same data folder: whatever was logged is there
    try:
        time.sleep(2)  # nothing to poll for: a missing record never comes
        rows = server.logs(trace_id="term")["data"]
        got = sorted((server.log(r["request_id"])["path"], r["error_type"]) for r in rows)
        assert [path for path, _ in got] == ["/v1/chat/completions", "/v1/responses"], got
        assert "client_disconnected" not in {error for _, error in got}, got
        assert b"application/json" in answered, answered[:300]
    finally:
        server.stop()


def test_a_keyless_hang_up_mid_body_makes_no_request_record(iris):
    """927ce9b: _log_unread_body (gateway/asgi.py) logs a 499 for any /v1 path, before any
    key check: a client with no key writes request-log records at will (feedback, batches,
    paths that do not exist), though the same requests sent whole are not logged."""
    before = {r["request_id"] for r in iris.logs(limit=200)["data"]}
    head = {"content-length": "100", "content-type": "application/json"}
    for path in ("/v1/feedback", "/v1/no-such-thing", "/v1/replays"):
        with post(iris, path, head, b"{", key=""):
            time.sleep(0.2)  # the server is waiting for the rest
    assert httpx.post(f"{iris.url}/v1/no-such-thing", content=b"{}").status_code == 404
    time.sleep(1.5)  # nothing to poll for: records that should not come
    new = [r for r in iris.logs(limit=200)["data"] if r["request_id"] not in before]
    assert new == [], [(r["status_code"], r["error_type"]) for r in new]


def test_a_url_image_sent_on_to_openai_has_no_fetch_ms(iris, fake_openai):
    """87344d0: OpenAI gets the URL itself; Iris fetches it only afterwards, for the log's
    copy (GATEWAY_SNAPSHOT_URL_IMAGES). The request never waited for that fetch, yet the
    log and the request page say "fetched by Iris in N ms"."""
    jpeg = {"content-type": "image/jpeg"}
    with FakeServer(lambda received: Reply(200, ROCKET, jpeg, delay=0.3)) as host:
        client = openai.OpenAI(
            base_url=iris.url + "/v1",
            api_key="sk-x",
            max_retries=0,
            default_headers=iris.headers(
                **{"x-portkey-provider": "openai", "x-portkey-custom-host": f"{fake_openai.url}/v1"}
            ),
        )
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=vision(f"{host.url}/r.jpg")
        )
        assert until(lambda: [r.method for r in host.received] == ["GET"])  # the snapshot
        [image] = iris.log(raw.headers["x-iris-request-id"])["images"]
    assert image["sha256"] is not None  # the copy was kept
    assert image["fetch_ms"] is None, image["fetch_ms"]


def test_a_timed_out_body_on_another_endpoint_is_logged_as_that_endpoint_and_key(
    tmp_path, fake_openai
):
    """927ce9b: _log_unread_body (gateway/asgi.py) begins a bare Record: its endpoint stays
    the default "chat.completions" for /v1/responses and /v1/images/generations, and a valid
    key is not attributed (the fast path's 408 names both)."""
    server = IrisServer(tmp_path, GATEWAY_BODY_READ_SECONDS="1").start()
    try:
        seen = []
        for path in ("/v1/responses", "/v1/images/generations"):
            head = to_openai(fake_openai.url, **{"content-length": "5000"})
            with post(server, path, head, b'{"model": "gpt-4o"') as sock:
                status, _, request_id = answer(sock)
            assert status == 408
            row = server.log(request_id)
            seen.append((path, row["endpoint"], row["api_key"]))
        assert seen == [
            ("/v1/responses", "responses", "tests"),
            ("/v1/images/generations", "images.generations", "tests"),
        ]
    finally:
        server.stop()
