"""What the response-cache tests share: a config with a cache, requests to a real Iris, the
cache status as the response header and the log tell it."""

import base64
import json
import time
import uuid

import httpx

from tests.conftest import IrisServer
from tests.fakes.server import FakeServer

PROVIDER_KEY = "sk-cache-test-provider-key-0123456789"


def cache_config(fake: FakeServer, max_age: int = 60, **leaf) -> str:
    """An inline x-portkey-config: one OpenAI leaf on the fake, cached (a key given as None
    is left out)."""
    body = {
        "provider": "openai",
        "api_key": PROVIDER_KEY,
        "custom_host": f"{fake.url}/v1",
        "cache": {"mode": "simple", "max_age": max_age},
        **leaf,
    }
    return json.dumps({k: v for k, v in body.items() if v is not None})


def unique_text() -> str:
    """A prompt no other test sends: the cache outlives each test in the server."""
    return f"cache test {uuid.uuid4().hex}"


def image_body(image: bytes, text: str, mime: str = "image/png", **params) -> dict:
    uri = f"data:{mime};base64,{base64.b64encode(image).decode()}"
    return url_body(uri, text, **params)


def url_body(url: str, text: str, **params) -> dict:
    content = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url}}]
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": content}], **params}


def post(iris: IrisServer, body: dict, config: str, **headers: str) -> httpx.Response:
    response = httpx.post(
        f"{iris.url}/v1/chat/completions",
        json=body,
        headers=iris.headers(**{"x-portkey-config": config, **headers}),
        timeout=30,
    )
    return response


def status(response: httpx.Response) -> str:
    return response.headers["x-portkey-cache-status"]


def logged(iris: IrisServer, response: httpx.Response) -> dict:
    """The request's log record (GET /v1/logs/{id}), with cache_status and attempts."""
    return iris.log(response.headers["x-iris-request-id"])


def logged_status(iris: IrisServer, response: httpx.Response) -> str:
    """cache_status as logged: from GET /v1/logs/{id}, else from the row itself."""
    record = logged(iris, response)
    if "cache_status" in record:
        return record["cache_status"]
    code = (
        "from gateway.models import RequestLog; "
        f"print(RequestLog.objects.get(request_id={response.headers['x-iris-request-id']!r})"
        ".cache_status)"
    )
    return iris.manage("shell", "-c", code)


def upstream_calls(fake: FakeServer) -> int:
    """Chat completions the fake upstream has answered (its image GETs are not counted)."""
    return sum(1 for r in fake.received if r.method == "POST")


def poll(check, timeout: float = 15.0, every: float = 0.1):
    """check()'s first truthy result, polled until timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every)
