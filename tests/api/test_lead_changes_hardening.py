"""Attacks on issue 18's third session, over real sockets to a real Iris, that it held:
the body deadline (GATEWAY_BODY_READ_SECONDS) with chunked, 100-continue, concurrent and
half-sent bodies and on the Django handler's endpoints; hang-ups while a slow upstream answers
(the fast path's watcher starts only after 100 ms); a flood of image streams with a tiny log
inbox; and LogImage.fetch_ms for URL images fetched twice, redirected or timed out."""

import asyncio
import base64
import os
import socket
import time

import httpx
import openai
import pytest

from tests.api.test_body_deadline import closed_after_answer
from tests.api.test_body_in_flight import answer, in_flight
from tests.api.test_gemini_e2e import client_for, vision
from tests.conftest import SHARED_IMAGES, IrisServer, png_bytes
from tests.fakes.server import FakeServer, Reply
from tests.fakes.slow_upstream import SlowUpstream

ROCKET = (SHARED_IMAGES / "rocket.jpg").read_bytes()
PARTIAL = b'{"model": "gpt-4o"'


@pytest.fixture(scope="module")
def iris_1s(tmp_path_factory):
    server = IrisServer(tmp_path_factory.mktemp("iris"), GATEWAY_BODY_READ_SECONDS="1").start()
    yield server
    server.stop()


def post(iris, path: str, head: dict[str, str], sent: bytes = b"", key=None) -> socket.socket:
    """A POST over a raw socket: these headers, then `sent` of its body (maybe not all)."""
    sock = socket.create_connection(("127.0.0.1", iris.port), timeout=10)
    lines = [f"POST {path} HTTP/1.1", f"host: 127.0.0.1:{iris.port}"]
    lines.append(f"x-portkey-api-key: {iris.key if key is None else key}")
    lines += [f"{name}: {value}" for name, value in head.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + sent)
    return sock


def to_openai(upstream_url: str, **extra: str) -> dict[str, str]:
    return {
        "x-portkey-provider": "openai",
        "authorization": "Bearer sk-x",
        "x-portkey-custom-host": f"{upstream_url}/v1",
        "content-type": "application/json",
        **extra,
    }


def until(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while not predicate() and time.monotonic() < end:
        time.sleep(0.05)
    return bool(predicate())


def traced(iris, trace: str) -> list[dict]:
    return iris.logs(trace_id=trace, limit=500)["data"]


# --- the body deadline (927ce9b, 672dee2) -------------------------------------------------


def test_a_stalled_chunked_body_gets_408_and_the_connection_closed(iris_1s, fake_openai):
    head = to_openai(fake_openai.url, **{"transfer-encoding": "chunked"})
    with post(iris_1s, "/v1/chat/completions", head, b'5\r\n{"mod\r\n') as sock:
        status, body, request_id = answer(sock)
        assert closed_after_answer(sock)
    assert status == 408 and body["error"]["code"] == "request_timeout"
    assert iris_1s.log(request_id)["status_code"] == 408


def test_100_continue_then_a_stalled_body_gets_408(iris_1s, fake_openai):
    head = to_openai(fake_openai.url, **{"content-length": "1000", "expect": "100-continue"})
    with post(iris_1s, "/v1/chat/completions", head) as sock:
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 100"), data
        sock.sendall(PARTIAL)
        rest = data.split(b"\r\n\r\n", 1)[1]
        while b"\r\n\r\n" not in rest:
            rest += sock.recv(65536)
        assert rest.startswith(b"HTTP/1.1 408"), rest[:300]


def test_a_slow_body_that_completes_in_time_is_answered(iris_1s, fake_openai):
    payload = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}'
    head = to_openai(fake_openai.url, **{"content-length": str(len(payload))})
    with post(iris_1s, "/v1/chat/completions", head, payload[:10]) as sock:
        time.sleep(0.3)  # well inside the 1 s deadline
        sock.sendall(payload[10:])
        status, body, _ = answer(sock)
    assert status == 200, body


def test_many_stalled_bodies_are_each_cut_and_logged_once(iris_1s, fake_openai):
    trace, count = f"stalled-{time.monotonic_ns()}", 30
    head = to_openai(fake_openai.url, **{"content-length": "5000", "x-portkey-trace-id": trace})
    socks = [post(iris_1s, "/v1/chat/completions", head, PARTIAL) for _ in range(count)]
    statuses = []
    for sock in socks:
        with sock:
            statuses.append(answer(sock)[0])
    assert statuses == [408] * count
    assert until(lambda: len(traced(iris_1s, trace)) >= count)
    time.sleep(0.5)  # nothing to poll for: a second record per request must not come
    assert [r["status_code"] for r in traced(iris_1s, trace)] == [408] * count
    assert in_flight(iris_1s)["bytes"] == 0


def test_a_hang_up_mid_body_is_one_499_not_also_a_408(iris_1s, fake_openai):
    trace = f"gone-{time.monotonic_ns()}"
    head = to_openai(fake_openai.url, **{"content-length": "5000", "x-portkey-trace-id": trace})
    with post(iris_1s, "/v1/chat/completions", head, PARTIAL):
        time.sleep(0.3)  # the server is waiting for the rest
    assert until(lambda: traced(iris_1s, trace))
    time.sleep(2.2)  # past the deadline and a sweep: nothing to poll for
    assert [r["status_code"] for r in traced(iris_1s, trace)] == [499]


def test_the_bytes_a_stalled_body_held_are_given_back_at_its_408(iris_1s, fake_openai):
    head = to_openai(fake_openai.url, **{"content-length": "1000000"})
    with post(iris_1s, "/v1/chat/completions", head, b"{" + b" " * 499_999) as sock:
        assert until(lambda: in_flight(iris_1s)["bytes"] == 500_000, 5)  # held as it came
        assert answer(sock)[0] == 408
    assert until(lambda: in_flight(iris_1s)["bytes"] == 0, 5)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
def test_a_trickled_body_is_cut_off_on_either_handler(iris_1s, fake_openai, path):
    """A byte every 0.1 s: each arrives well within any per-read timeout, the whole never."""
    with post(iris_1s, path, to_openai(fake_openai.url, **{"content-length": "500"}), b"{") as sock:
        sock.settimeout(0.1)
        data, started = b"", time.monotonic()
        while b"\r\n\r\n" not in data and time.monotonic() - started < 8:
            try:
                sock.sendall(b" ")
                data += sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
    assert data.startswith(b"HTTP/1.1 408"), data[:200]


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/prompts/any/completions"])
def test_the_django_handler_s_endpoints_cut_a_stalled_body(iris_1s, fake_openai, path):
    head = to_openai(fake_openai.url, **{"content-length": "5000"})
    with post(iris_1s, path, head, PARTIAL) as sock:
        status, body, request_id = answer(sock)
        assert closed_after_answer(sock)
    assert status == 408, body
    row = iris_1s.log(request_id)
    assert row["status_code"] == 408 and row["path"] == path


def test_a_stalled_multipart_image_edit_gets_408(iris_1s, fake_openai):
    start = (
        b'--b\r\ncontent-disposition: form-data; name="prompt"\r\n\r\na cat\r\n'
        b'--b\r\ncontent-disposition: form-data; name="image"; filename="a.png"\r\n'
        b"content-type: image/png\r\n\r\n"
    ) + png_bytes()[:20]
    head = to_openai(
        fake_openai.url,
        **{"content-type": "multipart/form-data; boundary=b", "content-length": "100000"},
    )
    with post(iris_1s, "/v1/images/edits", head, start) as sock:
        status, body, request_id = answer(sock)
        assert closed_after_answer(sock)
    assert status == 408, body
    assert iris_1s.log(request_id)["status_code"] == 408


def test_the_rest_of_a_timed_out_body_and_a_next_request_are_not_served(iris_1s, fake_openai):
    head = to_openai(fake_openai.url, **{"content-length": "30"})
    with post(iris_1s, "/v1/chat/completions", head, b'{"model"') as sock:
        assert answer(sock)[0] == 408
        try:  # the body's last 22 bytes, then a request on the same connection
            sock.sendall(b" " * 22 + b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return
        assert closed_after_answer(sock)


def test_a_refused_key_s_stalled_chunked_body_is_answered(iris_1s, fake_openai):
    head = to_openai(fake_openai.url, **{"transfer-encoding": "chunked"})
    with post(iris_1s, "/v1/chat/completions", head, b"1\r\n{\r\n", key="iris-nope") as sock:
        status, body, _ = answer(sock)
        assert closed_after_answer(sock)
    assert status == 401 and body["error"]["code"] == "invalid_api_key"


# --- hang-ups while a slow upstream answers (d55ef38) -------------------------------------


def chat_over_socket(iris, upstream, stream: bool, trace: str) -> socket.socket:
    body = b'{"model": "gpt-4o", "stream": %s, "messages": [{"role": "user", "content": "hi"}]}' % (
        b"true" if stream else b"false"
    )
    head = {"content-length": str(len(body)), "x-portkey-trace-id": trace}
    head = to_openai(upstream.url, **head)
    return post(iris, "/v1/chat/completions", head, body)


@pytest.mark.parametrize("after", [0.01, 0.05, 0.3])  # before and after the watcher starts
def test_a_hang_up_during_a_slow_answer_cancels_the_upstream_and_is_a_499(iris, after):
    trace = f"slow-{time.monotonic_ns()}"
    with SlowUpstream(delay=4) as upstream:
        sock = chat_over_socket(iris, upstream, False, trace)
        assert until(lambda: upstream.requests == 1)
        time.sleep(after)
        sock.close()
        assert until(lambda: upstream.closed_early == 1, 3), "the upstream request went on"
        assert [r["status_code"] for r in iris.find_logs(trace_id=trace)] == [499]
        assert upstream.finished == 0


@pytest.mark.parametrize("events_before", [0, 2])
def test_a_hang_up_during_a_stream_cancels_the_upstream_and_is_logged_gone(iris, events_before):
    trace = f"stream-{time.monotonic_ns()}"
    with SlowUpstream(delay=0.3 if events_before else 3, events=30) as upstream:
        sock = chat_over_socket(iris, upstream, True, trace)
        data = b""
        while data.count(b"data: ") < events_before:
            data += sock.recv(65536)
        assert until(lambda: upstream.requests == 1)
        sock.close()
        assert until(lambda: upstream.closed_early == 1, 5), "the upstream stream went on"
        [row] = iris.find_logs(trace_id=trace)
        row = iris.log(row["request_id"])  # a stream's 200 went out: the record says gone
        assert row["error_type"] == "client_disconnected"
        assert row["chunk_count"] >= events_before


def test_hundreds_of_hang_ups_leave_no_connection_or_record_behind(iris):
    trace, count = f"many-{time.monotonic_ns()}", 200
    fds = lambda: len(os.listdir(f"/proc/{iris.process.pid}/fd"))  # noqa: E731
    with SlowUpstream(delay=2, events=5) as upstream:
        before = fds()
        for sent in range(50, count + 1, 50):
            socks = [chat_over_socket(iris, upstream, bool(i % 2), trace) for i in range(50)]
            assert until(lambda n=sent: upstream.requests >= n, 20), upstream.errors
            for sock in socks:
                sock.close()
        assert until(lambda: upstream.closed_early == count, 20), upstream.closed_early
        assert until(lambda: len(traced(iris, trace)) == count, 20)
        assert {r["error_type"] for r in traced(iris, trace)} == {"client_disconnected"}
        assert until(lambda: fds() <= before + 5, 15), (before, fds())
        assert upstream.finished == 0 and not upstream.errors
    assert httpx.get(f"{iris.url}/healthz").json()["status"] == "ok"


# --- image streams with a tiny log inbox (c4e4c68) ----------------------------------------


def test_a_flood_of_image_streams_with_a_tiny_inbox_is_all_answered_and_logged(
    tmp_path, fake_openai
):
    server = IrisServer(
        tmp_path, LOG_INBOX_MAX_IMAGE_BYTES="1000", LOG_JOURNAL_WAIT_SECONDS="2"
    ).start()
    try:
        uri = "data:image/png;base64," + base64.b64encode(png_bytes((300, 300))).decode()
        content = [{"type": "image_url", "image_url": {"url": uri}}]
        messages = [{"role": "user", "content": content}]
        body = {"model": "gpt-4o", "stream": True, "messages": messages}
        headers = server.headers(**to_openai(fake_openai.url, **{"x-portkey-trace-id": "flood"}))

        async def flood() -> list[int]:
            async with httpx.AsyncClient(timeout=60, headers=headers) as client:
                url = f"{server.url}/v1/chat/completions"
                answers = await asyncio.gather(*(client.post(url, json=body) for _ in range(60)))
                return [a.status_code for a in answers]

        assert asyncio.run(flood()) == [200] * 60
        assert until(lambda: len(traced(server, "flood")) == 60, 20)
    finally:
        server.stop()


# --- LogImage.fetch_ms (87344d0) -----------------------------------------------------------


def two_images(first: str, second: str) -> list[dict]:
    parts = [{"type": "image_url", "image_url": {"url": url}} for url in (first, second)]
    return [{"role": "user", "content": [{"type": "text", "text": "compare"}, *parts]}]


def test_a_url_named_twice_is_fetched_once_and_both_images_carry_the_time(iris, fake_gemini):
    jpeg = {"content-type": "image/jpeg"}
    with FakeServer(lambda received: Reply(200, ROCKET, jpeg, delay=0.2)) as host:
        url = f"{host.url}/r.jpg"
        raw = client_for(iris, fake_gemini).chat.completions.with_raw_response.create(
            model="gemini-2.5-flash", messages=two_images(url, url)
        )
        assert [r.method for r in host.received] == ["GET"]
    images = iris.log(raw.headers["x-iris-request-id"])["images"]
    assert len(images) == 2 and all(i["fetch_ms"] >= 200 for i in images), images


def test_a_failing_url_named_twice_is_a_400_with_both_times(iris, fake_gemini):
    with FakeServer(lambda received: Reply(404, b"gone")) as host:
        url = f"{host.url}/missing.jpg"
        with pytest.raises(openai.BadRequestError) as refused:
            client_for(iris, fake_gemini).chat.completions.create(
                model="gemini-2.5-flash", messages=two_images(url, url)
            )
    request_id = refused.value.response.headers["x-iris-request-id"]
    images = iris.log(request_id)["images"]
    assert len(images) == 2
    assert all(i["fetch_ms"] is not None and "HTTP 404" in i["error"] for i in images), images


def test_a_redirected_url_carries_its_fetch_time(iris, fake_gemini):
    jpeg = {"content-type": "image/jpeg"}
    with FakeServer(lambda received: Reply(200, ROCKET, jpeg)) as target:
        moved = {"location": f"{target.url}/r.jpg"}
        with FakeServer(lambda received: Reply(302, b"", moved)) as host:
            raw = client_for(iris, fake_gemini).chat.completions.with_raw_response.create(
                model="gemini-2.5-flash", messages=vision(f"{host.url}/moved")
            )
    [image] = iris.log(raw.headers["x-iris-request-id"])["images"]
    assert image["fetch_ms"] is not None and image["mime"] == "image/jpeg", image


def test_a_timed_out_fetch_carries_about_the_timeout(iris, fake_gemini):
    jpeg = {"content-type": "image/jpeg"}  # the iris fixture's GATEWAY_IMAGE_FETCH_TIMEOUT: 2 s
    slow = FakeServer(lambda received: Reply(200, ROCKET, jpeg, delay=4))
    with slow as host, pytest.raises(openai.BadRequestError) as refused:
        client_for(iris, fake_gemini).chat.completions.create(
            model="gemini-2.5-flash", messages=vision(f"{host.url}/slow.jpg")
        )
    [image] = iris.log(refused.value.response.headers["x-iris-request-id"])["images"]
    assert "timed out" in image["error"]
    assert 1500 <= image["fetch_ms"] < 30_000  # the timeout, not the host's 4 s
