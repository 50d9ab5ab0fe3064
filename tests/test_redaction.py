"""What the log keeps of headers, URLs and error messages: no secret under any name.

The unit tests pin the rules (gateway/redact.py, http.redact_url); the server test sends
secrets through a real Iris and looks for them on every surface that shows a logged request:
the database row, the logs UI (detail page, its tabs, the copy-as-curl/Python snippets) and
the logs API."""

import json
import uuid

import httpx
import pytest

from gateway import http, redact
from tests.fakes.server import FakeServer, Reply


def test_every_header_is_masked_but_a_few_plain_ones():
    headers = redact.redact_headers(
        {
            "Authorization": "Bearer sk-live",
            "x-portkey-api-key": "iris-x",
            "api-key": "az",
            "x-portkey-aws-secret-access-key": "s",
            "x-portkey-aws-session-token": "t",
            "Cookie": "sessionid=1",
            "x-auth": "secret-1",  # no secret-sounding word in its name
            "x-portkey-config": '{"api_key": "secret-2"}',
            "proxy-authorization": "Basic c2VjcmV0",
            "referer": "https://app.example/?session=secret-3",
            "x-portkey-virtual-key": "openai-prod",
            "X-Portkey-Provider": "openai",
            "x-portkey-trace-id": "trace-1",
            "x-portkey-azure-deployment-id": "vision",
            "content-type": "application/json",
            "user-agent": "OpenAI/Python 1.50",
            "x-stainless-retry-count": "0",
        }
    )
    assert {k for k, v in headers.items() if v != "[redacted]"} == {
        "x-portkey-provider",
        "x-portkey-trace-id",
        "x-portkey-azure-deployment-id",
        "content-type",
        "user-agent",
        "x-stainless-retry-count",
    }
    assert headers["x-portkey-provider"] == "openai"  # names lowercased, values kept as sent


def test_a_custom_host_is_kept_without_userinfo_and_query_values():
    headers = redact.redact_headers(
        {"x-portkey-custom-host": "http://user:pw@[::1]:8000/v1?key=k-123&tenant=a#frag"}
    )
    assert (
        headers["x-portkey-custom-host"] == "http://[::1]:8000/v1?key=[redacted]&tenant=[redacted]"
    )
    odd = redact.redact_headers({"x-portkey-custom-host": "http://h:port/v1"})
    assert odd["x-portkey-custom-host"] == "http://h:[invalid port]/v1"
    slash = redact.redact_headers({"x-portkey-custom-host": "http://evil\\@127.0.0.1:9/v1"})
    assert slash["x-portkey-custom-host"] == "http://127.0.0.1:9/v1"
    broken = redact.redact_headers({"x-portkey-custom-host": "http://u:pw@[::1/v1"})
    assert broken["x-portkey-custom-host"] == "[redacted] (not a valid URL)"


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        (
            "https://h.example/v1?access_token=AT&api-key=AK&client_secret=CS",
            "https://h.example/v1?access_token=[redacted]&api-key=[redacted]&client_secret=[redacted]",
        ),
        (  # the parameters Iris itself sets upstream stay readable
            "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21",
            "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21",
        ),
        (
            "https://g.example/v1beta/m:stream?alt=sse&key=K",
            "https://g.example/v1beta/m:stream?alt=sse&key=[redacted]",
        ),
        ("https://u:p@h.example:8443/x", "https://h.example:8443/x"),
    ],
)
def test_redact_url_masks_every_query_value(url, logged):
    assert http.redact_url(url) == logged


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("connect postgres://iris:p@ss@db:5432/x failed", "connect postgres://db:5432/x failed"),
        ("unsupported URL 'https://u:p@h/v1'", "unsupported URL 'https://h/v1'"),
        ("redis://:pw@cache:6379/0 is down", "redis://cache:6379/0 is down"),
        ("mail a@b about http://h/x", "mail a@b about http://h/x"),  # no URL userinfo: as is
    ],
)
def test_scrub_text_strips_userinfo_of_any_scheme(text, scrubbed):
    assert redact.scrub_text(text) == scrubbed


def test_scrub_json_walks_every_string():
    body = {"error": {"message": "via https://u:secret@h/", "list": ["amqp://a:b@q"]}, "n": 1}
    assert redact.scrub_json(body) == {
        "error": {"message": "via https://h/", "list": ["amqp://q"]},
        "n": 1,
    }


# --- over a real server ---------------------------------------------------------------

SECRETS = ["AT-0f3e", "AK-9b1c", "CS-77d2", "XAUTH-5e6a", "PW-c0ff", "OPT-3a3a", "DBPW-d00d"]


def _db_upstream(request):
    """An upstream whose error quotes a database URL with its password."""
    message = "backend down: postgres://iris:DBPW-d00d@db.internal:5432/llm refused"
    return Reply.json(503, {"error": {"message": message, "type": "server_error"}})


@pytest.fixture(scope="module")
def db_upstream():
    with FakeServer(_db_upstream) as server:
        yield server


@pytest.fixture(scope="module")
def viewer(iris):
    """A logs UI login on the shared server (a name of its own: other tests lock names out)."""
    name = f"redaction-{uuid.uuid4().hex[:8]}"
    iris.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_superuser({name!r}, password='right-password-1')",
    )
    with httpx.Client(base_url=iris.url, timeout=30) as client:
        client.get("/logs/login/")
        form = {"username": name, "password": "right-password-1", "next": "/logs/"}
        form["csrfmiddlewaretoken"] = client.cookies["csrftoken"]
        assert client.post("/logs/login/", data=form).status_code == 302
        yield client


def _send(iris, custom_host: str, **headers: str) -> str:
    response = httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers=iris.headers(
            **{
                "x-portkey-provider": "openai",
                "x-portkey-custom-host": custom_host,
                "authorization": "Bearer sk-upstream",
                "x-auth": "XAUTH-5e6a",
                "x-portkey-some-option": "OPT-3a3a",
                **headers,
            }
        ),
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    return response.headers["x-iris-request-id"]


def _surfaces(iris, viewer, request_id: str) -> dict[str, str]:
    """Every place a logged request shows, as text."""
    log = iris.log(request_id)
    row = iris.manage(
        "shell",
        "-c",
        "import json; from gateway.models import RequestLog; "
        f"r = RequestLog.objects.get(pk={log['id']}); "
        "print(json.dumps([r.request_headers, r.upstream_url, r.error_message, r.response_body]))",
    )
    pages = {"db row": row, "api": json.dumps(log)}
    pages["api list"] = json.dumps(iris.logs(request_id=request_id))
    pages["detail page"] = viewer.get(f"/logs/{log['id']}/").text
    for part in ("headers", "request", "upstream", "response"):
        tab = viewer.get(f"/logs/{log['id']}/raw/{part}/", headers={"HX-Request": "true"})
        pages[f"{part} tab"] = tab.text
    for kind in ("curl", "python"):
        pages[kind] = viewer.get(f"/logs/{log['id']}/copy/{kind}/").text
    return pages


def _leaks(pages: dict[str, str]) -> list[tuple[str, str]]:
    return [(where, s) for where, text in pages.items() for s in SECRETS if s in text]


def test_no_secret_reaches_any_surface_of_a_proxied_request(iris, viewer, fake_openai):
    request_id = _send(iris, f"{fake_openai.url}/v1")
    pages = _surfaces(iris, viewer, request_id)
    assert "[redacted]" in pages["headers tab"] and "x-auth" in pages["headers tab"]
    assert "$SOME_OPTION" in pages["curl"]  # a masked option is replayed from the environment
    assert _leaks(pages) == []


def test_no_secret_reaches_any_surface_of_a_refused_custom_host(iris, viewer, fake_openai):
    host = fake_openai.url.replace("http://", "http://iris:PW-c0ff@")
    query = "?access_token=AT-0f3e&api-key=AK-9b1c&client_secret=CS-77d2"
    request_id = _send(iris, f"{host}/v1{query}")
    pages = _surfaces(iris, viewer, request_id)
    assert "access_token=[redacted]" in pages["headers tab"]
    assert "Invalid x-portkey-custom-host" in pages["api"]
    assert _leaks(pages) == []


def test_an_upstream_error_is_logged_without_userinfo(iris, viewer, db_upstream):
    request_id = _send(iris, f"{db_upstream.url}/v1")
    pages = _surfaces(iris, viewer, request_id)
    assert "postgres://db.internal:5432/llm" in pages["api"]
    assert _leaks(pages) == []
