"""A request body must arrive within GATEWAY_BODY_READ_SECONDS of its first wait: a client
that sends its headers and then trickles (or never sends) its body gets a 408, logged, and
its connection closed. Over real sockets to a real Iris, on the fast path (chat) and on the
Django handler's (/v1/images/generations)."""

import socket
import time

import pytest

from tests.api.test_body_in_flight import answer, open_request
from tests.conftest import IrisServer


@pytest.fixture(scope="module")
def iris_1s(tmp_path_factory):
    server = IrisServer(tmp_path_factory.mktemp("iris"), GATEWAY_BODY_READ_SECONDS="1").start()
    yield server
    server.stop()


def closed_after_answer(sock: socket.socket) -> bool:
    """Does the server close the connection once it has answered?"""
    sock.settimeout(5)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_a_stalled_body_gets_408_logged_and_the_connection_closed(iris_1s):
    started = time.monotonic()
    with open_request(iris_1s, iris_1s.key, 10_000, sent=b'{"model": "gpt-4o"') as sock:
        status, body, request_id = answer(sock)
        waited = time.monotonic() - started
        assert closed_after_answer(sock)
    assert status == 408, body
    assert body["error"]["code"] == "request_timeout"
    assert "GATEWAY_BODY_READ_SECONDS" in body["error"]["message"]
    assert 0.9 < waited < 8  # the deadline, kept to within the sweeper's second
    row = iris_1s.log(request_id)
    assert row["status_code"] == 408 and row["error_type"] == body["error"]["type"]


def test_a_trickled_body_is_cut_off_however_steadily_it_comes(iris_1s):
    """Slowloris: a byte every 0.2 s keeps the connection busy but not the deadline away."""
    with open_request(iris_1s, iris_1s.key, 10_000, sent=b"{") as sock:
        sock.settimeout(0.2)
        started, data = time.monotonic(), b""
        while time.monotonic() - started < 8 and b"\r\n\r\n" not in data:
            try:
                sock.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                data += sock.recv(65536)
            except TimeoutError:
                continue
        assert data.startswith(b"HTTP/1.1 408"), data[:200]


def test_a_refused_key_with_a_stalled_body_is_answered_at_the_deadline(iris_1s):
    """A wrong key's body is read only to be dropped: that wait has the deadline too."""
    with open_request(iris_1s, "iris-not-a-key", 50_000, sent=b"{") as sock:
        status, body, request_id = answer(sock)
        assert closed_after_answer(sock)
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert iris_1s.log(request_id)["status_code"] == 401


def _images_request(iris, length: int, sent: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", iris.port), timeout=10)
    sock.sendall(
        (
            "POST /v1/images/generations HTTP/1.1\r\n"
            f"host: 127.0.0.1:{iris.port}\r\n"
            f"x-portkey-api-key: {iris.key}\r\n"
            "x-portkey-provider: openai\r\nauthorization: Bearer sk-x\r\n"
            "content-type: application/json\r\n"
            f"content-length: {length}\r\n\r\n"
        ).encode()
        + sent
    )
    return sock


def test_the_other_endpoints_have_the_deadline_too(iris_1s):
    with _images_request(iris_1s, 5_000, b'{"prompt": "a cat"') as sock:
        status, body, request_id = answer(sock)
        assert closed_after_answer(sock)
    assert status == 408 and body["error"]["code"] == "request_timeout"
    row = iris_1s.log(request_id)
    assert row["status_code"] == 408 and row["path"] == "/v1/images/generations"


def test_a_hang_up_mid_body_on_the_other_endpoints_is_logged_as_gone(iris_1s):
    with _images_request(iris_1s, 5_000, b'{"prompt": "a dog"'):
        time.sleep(0.3)  # the server is waiting for the rest
    deadline, gone = time.monotonic() + 10, []
    while not gone and time.monotonic() < deadline:
        rows = [iris_1s.log(r["request_id"]) for r in iris_1s.logs()["data"]]
        gone = [
            r for r in rows if r["path"] == "/v1/images/generations" and r["status_code"] == 499
        ]
        time.sleep(0.1)
    assert gone and gone[0]["error_type"] == "client_disconnected"
