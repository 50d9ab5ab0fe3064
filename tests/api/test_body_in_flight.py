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


def in_flight(iris) -> dict:
    return httpx.get(f"{iris.url}/healthz").json()["request_bodies_in_flight"]


def chat(iris, fake_openai, size: int) -> httpx.Response:
    return httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers=iris.headers(
            **{
                "x-portkey-provider": "openai",
                "authorization": "Bearer sk-x",
                "x-portkey-custom-host": f"{fake_openai.url}/v1",
            }
        ),
        content=json.dumps({**BODY, "user": "x" * size}),
        timeout=30,
    )


def test_a_wrong_key_has_its_body_read_but_not_kept(iris):
    # 50 MB promised, 1 MB sent: Iris reads it only to let the client finish (then answers
    # 401), holding none of it.
    with open_request(iris, "iris-not-a-key", 50 * 1024 * 1024, sent=b"{" * 1_000_000) as sock:
        time.sleep(0.3)  # nothing to poll for: the point is that nothing gets held
        assert in_flight(iris)["bytes"] == 0
        sock.sendall(b" " * (50 * 1024 * 1024 - 1_000_000))
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
    assert in_flight(iris) == {"bytes": 0, "limit": 1_000_000, "refused": 0}
    # 800 kB of a promised 900 kB sent: held as they arrive, until the request ends.
    with open_request(iris, iris.key, 900_000, sent=b"{" + b" " * 799_999):
        deadline = time.monotonic() + 10
        while in_flight(iris)["bytes"] < 800_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert in_flight(iris)["bytes"] == 800_000
        refused = chat(iris, fake_openai, 300_000)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-length"] == str(len(refused.content))  # not chunked
        error = refused.json()["error"]
        assert error["code"] == "gateway_busy"
        assert "GATEWAY_MAX_BODY_BYTES_IN_FLIGHT" in error["message"]
        assert iris.log(refused.headers["x-iris-request-id"])["status_code"] == 503
        assert in_flight(iris)["refused"] == 1
        small = chat(iris, fake_openai, 1_000)  # what fits still goes through
        assert small.status_code == 200, small.text
    deadline = time.monotonic() + 10  # the hang-up gives its bytes back
    while in_flight(iris)["bytes"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert in_flight(iris)["bytes"] == 0
    ok = chat(iris, fake_openai, 300_000)
    assert ok.status_code == 200, ok.text
    assert ok.headers["content-length"] == str(len(ok.content))


def test_a_process_holding_no_body_admits_one_past_the_budget(small_budget, fake_openai):
    assert chat(small_budget, fake_openai, 1_500_000).status_code == 200
    assert in_flight(small_budget)["bytes"] == 0


def test_an_early_answer_reads_the_rest_of_the_body_first(iris):
    """A refused key on a connection that is not kept alive: the client, still sending,
    gets its 401 (not a reset when the server closes with unread bytes)."""
    body = json.dumps({**BODY, "user": "x" * 2_000_000}).encode()
    response = httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers={
            "x-portkey-api-key": "iris-not-a-key",
            "x-portkey-provider": "openai",
            "connection": "close",
            "content-type": "application/json",
        },
        content=body,
        timeout=30,
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_api_key"


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


def test_a_client_expecting_100_continue_gets_the_refusal_without_sending(iris):
    sock = socket.create_connection(("127.0.0.1", iris.port), timeout=10)
    with sock:
        sock.sendall(
            (
                "POST /v1/chat/completions HTTP/1.1\r\n"
                f"host: 127.0.0.1:{iris.port}\r\n"
                "x-portkey-api-key: iris-not-a-key\r\nx-portkey-provider: openai\r\n"
                "content-type: application/json\r\nexpect: 100-continue\r\n"
                "content-length: 5000000\r\n\r\n"
            ).encode()
        )
        status, body, _ = answer(sock)  # no "100 Continue": the final answer at once
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
