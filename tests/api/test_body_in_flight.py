"""The fast path reads a body only once the key is checked, and bounds the bodies it holds
at once (GATEWAY_MAX_BODY_BYTES_IN_FLIGHT): over real sockets to a real Iris."""

import json
import socket
import time

import httpx
import pytest

from tests.conftest import IrisServer

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def open_request(iris, key: str, length: int, sent: bytes = b"{") -> socket.socket:
    """A POST whose headers promise `length` bytes of body, of which only `sent` is sent."""
    sock = socket.create_connection(("127.0.0.1", iris.port), timeout=10)
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\n"
        f"host: 127.0.0.1:{iris.port}\r\n"
        f"x-portkey-api-key: {key}\r\n"
        "x-portkey-provider: openai\r\nauthorization: Bearer sk-x\r\n"
        "content-type: application/json\r\n"
        f"content-length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode() + sent)
    return sock


def answer(sock: socket.socket) -> tuple[int, dict, str]:
    """(status, JSON body, the x-iris-request-id) of the first response on the socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    headers = {name.lower(): value for name, value in headers.items()}
    if "content-length" in headers:
        while len(rest) < int(headers["content-length"]):
            rest += sock.recv(65536)
        content = rest[: int(headers["content-length"])]
    else:  # chunked
        while not rest.endswith(b"0\r\n\r\n"):
            rest += sock.recv(65536)
        content = b""
        while True:
            size_line, rest = rest.split(b"\r\n", 1)
            if not (size := int(size_line, 16)):
                break
            content, rest = content + rest[:size], rest[size + 2 :]
    return int(lines[0].split()[1]), json.loads(content), headers.get("x-iris-request-id")


def test_a_wrong_key_is_refused_before_the_body_is_read(iris):
    # 50 MB promised, one byte sent: Iris answers at once instead of waiting for (and
    # holding) a body it would refuse anyway.
    with open_request(iris, "iris-not-a-key", 50 * 1024 * 1024) as sock:
        status, body, request_id = answer(sock)
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert iris.log(request_id)["status_code"] == 401  # logged, as every refusal


@pytest.fixture
def small_budget(tmp_path, fake_openai):
    server = IrisServer(tmp_path, GATEWAY_MAX_BODY_BYTES_IN_FLIGHT="1000000").start()
    yield server
    server.stop()


def test_bodies_past_the_process_budget_get_503_and_are_logged(small_budget, fake_openai):
    iris = small_budget
    with open_request(iris, iris.key, 800_000) as holding:  # 800 kB held, not yet sent
        time.sleep(0.2)  # no answer to poll for: the server holds its bytes once it reads
        refused = httpx.post(
            f"{iris.url}/v1/chat/completions",
            headers=iris.headers(
                **{
                    "x-portkey-provider": "openai",
                    "authorization": "Bearer sk-x",
                    "x-portkey-custom-host": f"{fake_openai.url}/v1",
                }
            ),
            content=json.dumps({**BODY, "user": "x" * 300_000}),
            timeout=30,
        )
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-length"] == str(len(refused.content))  # not chunked
        error = refused.json()["error"]
        assert error["code"] == "gateway_busy"
        assert "GATEWAY_MAX_BODY_BYTES_IN_FLIGHT" in error["message"]
        assert iris.log(refused.headers["x-iris-request-id"])["status_code"] == 503
        holding.close()  # its bytes are given back once it ends
    deadline = time.monotonic() + 10
    while True:  # the dead request's answer goes nowhere; its bytes come back after it
        ok = httpx.post(
            f"{iris.url}/v1/chat/completions",
            headers=iris.headers(
                **{
                    "x-portkey-provider": "openai",
                    "authorization": "Bearer sk-x",
                    "x-portkey-custom-host": f"{fake_openai.url}/v1",
                }
            ),
            content=json.dumps({**BODY, "user": "x" * 300_000}),
            timeout=30,
        )
        if ok.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ok.status_code == 200, ok.text
    assert ok.headers["content-length"] == str(len(ok.content))


def test_a_client_that_hangs_up_mid_body_is_logged_as_gone(iris):
    with open_request(iris, iris.key, 10_000, sent=b'{"model": "gpt-4o", "mess'):
        time.sleep(0.3)  # the server is waiting for the rest
    deadline = time.monotonic() + 10
    rows = []
    while not rows and time.monotonic() < deadline:
        rows = [r for r in iris.logs(status_code=499)["data"] if r.get("status_code") == 499]
        time.sleep(0.1)
    assert rows, "a request cut off mid-body left no record"
    assert rows[0]["error_type"] == "client_disconnected"
