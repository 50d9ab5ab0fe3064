"""gateway/fastpath.py serves POST /v1/chat/completions from ASGI: the headers it hands the
service are the ones Django's request would have given, and what it cannot judge goes to
the Django handler."""

import io
import socket

import pytest
from django.core.handlers.asgi import ASGIRequest

from gateway import fastpath


def _scope(headers: list[tuple[bytes, bytes]]) -> dict:
    return {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }


@pytest.mark.parametrize(
    "headers",
    [
        [(b"host", b"localhost"), (b"content-type", b"application/json")],
        [(b"x-portkey-provider", b"openai"), (b"X-Portkey-Trace-Id", b"T")],
        [(b"accept", b"a/b"), (b"accept", b"c/d"), (b"x_under_score", b"1")],
        [(b"authorization", b"Bearer \xe9"), (b"content-length", b"12")],
    ],
)
def test_headers_are_the_ones_djangos_request_gives(headers):
    django_headers = ASGIRequest(_scope(headers), io.BytesIO(b"")).headers
    ours = fastpath.headers_of(_scope(headers))
    assert ours == {name.lower(): value for name, value in django_headers.items()}
    for name in django_headers:
        assert ours[name] == django_headers[name] == ours.get(name.upper())
        assert name.upper() in ours
    assert ours.get("absent", "x") == "x" and "absent" not in ours


def test_only_a_plain_post_to_chat_completions_takes_it():
    assert fastpath.wants(_scope([]))
    assert not fastpath.wants({**_scope([]), "method": "GET"})
    assert not fastpath.wants({**_scope([]), "path": "/v1/chat/completions/"})
    assert not fastpath.wants({**_scope([]), "root_path": "/iris"})


def test_a_request_without_a_host_header_is_answered_by_django(iris):
    """HTTP/1.0 needs no Host: the fast path leaves it to Django's handler, which judges the
    host from the server's name (allowed here) and answers as for any other request."""
    with socket.create_connection(("127.0.0.1", iris.port), timeout=30) as sock:
        body = b"{}"
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.0\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401") and b"x-iris-request-id" in head.lower()
    assert b"missing_api_key" in payload


def test_an_empty_forwarded_host_is_refused_as_djangos_request_refuses_it(settings):
    settings.USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = ["gateway.example"]
    headers = fastpath.headers_of(
        _scope([(b"host", b"gateway.example"), (b"x-forwarded-host", b"")])
    )
    assert fastpath.host_allowed(headers) is False
    headers = fastpath.headers_of(_scope([(b"x-forwarded-host", b"gateway.example")]))
    assert fastpath.host_allowed(headers) is True
