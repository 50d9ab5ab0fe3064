"""Issue 17: a provider's 500 passed on is logged as an upstream error (WARNING), not at
ERROR as if Iris had crashed; Iris's own faults keep ERROR. Over a real Iris and a real
fake upstream, reading the server's own log."""

import logging
import time

import httpx
import pytest

from gateway.log import answered
from tests.fakes import openai as fake_openai
from tests.fakes.cued import Cued, cued_server


def _post(iris, upstream: str, request_id_out: list) -> httpx.Response:
    response = httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers=iris.headers(
            **{
                "x-portkey-provider": "openai",
                "x-portkey-custom-host": upstream,
                "authorization": "Bearer sk-upstream-secret",
            }
        ),
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    request_id_out.append(response.headers.get("x-iris-request-id"))
    return response


def _lines_about(iris, path: str, seen: int) -> list[str]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the server writes its log line as it answers
        iris.log_file.flush()
        lines = iris.log_path.read_text().splitlines()[seen:]
        found = [line for line in lines if path in line and "django.request" in line]
        if found:
            return found
        time.sleep(0.05)
    return []


def test_an_upstream_500_is_a_warning_not_an_error(iris):
    seen = len(iris.log_path.read_text().splitlines())
    with cued_server(fake_openai.handle) as fake:
        fake.cued.cue(Cued.error(500, "The server had an error while processing your request."))
        ids: list = []
        response = _post(iris, f"{fake.url}/v1", ids)
    assert response.status_code == 500
    assert response.json()["error"]["message"].startswith("The server had an error")
    lines = _lines_about(iris, "/v1/chat/completions", seen)
    assert lines, iris.log_path.read_text()[-2000:]
    assert all(" ERROR " not in line for line in lines), lines
    assert any(" WARNING " in line and "Upstream error" in line and "500" in line for line in lines)
    assert iris.log(ids[0])["status_code"] == 500


def _record(status: int, path: str = "/v1/chat/completions", exc_info=None) -> logging.LogRecord:
    request = type("Request", (), {"path": path, "method": "POST"})()
    record = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", (path,), exc_info
    )
    record.status_code, record.request = status, request
    return record


def test_iris_own_faults_keep_error():
    upstream, own = answered.UpstreamErrors(), answered.OwnFaults()
    passed_on = _record(500)
    assert upstream.filter(passed_on) and passed_on.levelno == logging.WARNING
    # A crash Django caught (its traceback attached) stays an ERROR.
    try:
        raise RuntimeError("bug")
    except RuntimeError:
        import sys

        crashed = _record(500, exc_info=sys.exc_info())
    assert upstream.filter(crashed) and crashed.levelno == logging.ERROR
    # A fault the request path caught and logged at ERROR marks its request's 500 too.
    own.filter(logging.LogRecord("gateway.service", logging.ERROR, __file__, 1, "x", (), None))
    ours = _record(500)
    assert upstream.filter(ours) and ours.levelno == logging.ERROR
    after = _record(500)  # the mark is the one request's
    assert upstream.filter(after) and after.levelno == logging.WARNING
    # Pages of the logs UI and the admin are Django's own business.
    page = _record(500, path="/logs/1/")
    assert upstream.filter(page) and page.levelno == logging.ERROR


@pytest.fixture(autouse=True)
def _installed():
    answered.install()
    assert any(
        isinstance(f, answered.UpstreamErrors) for f in logging.getLogger("django.request").filters
    )
