"""Helpers of the routing-config end-to-end tests (fixtures: conftest.py)."""

import json
import time

import httpx

OPENAI_MODEL = "gpt-4o"
CLAUDE_MODEL = "claude-sonnet-4-5"


def openai_leaf(fake, **extra) -> dict:
    return {"provider": "openai", "api_key": "sk-test", "custom_host": f"{fake.url}/v1", **extra}


def anthropic_leaf(fake, **extra) -> dict:
    return {
        "provider": "anthropic",
        "api_key": "sk-ant-test",
        "custom_host": f"{fake.url}/v1",
        "override_params": {"model": CLAUDE_MODEL},
        **extra,
    }


def user(text: str = "hello", *images: str, detail: str | None = None) -> list[dict]:
    parts: list[dict] = [{"type": "text", "text": text}]
    for url in images:
        spec = {"url": url, **({"detail": detail} if detail else {})}
        parts.append({"type": "image_url", "image_url": spec})
    return [{"role": "user", "content": parts if images else text}]


def chat(iris, config, messages=None, *, model=OPENAI_MODEL, **body_and_headers) -> httpx.Response:
    """POST /v1/chat/completions under a config (a dict: inline JSON; a str: a saved id)."""
    headers = body_and_headers.pop("headers", {})
    if config is not None:
        headers["x-portkey-config"] = config if isinstance(config, str) else json.dumps(config)
    body = {"model": model, "messages": messages or user(), **body_and_headers}
    return httpx.post(
        f"{iris.url}/v1/chat/completions", headers=iris.headers(**headers), json=body, timeout=30
    )


def answer(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def attempts(iris, request_id: str) -> list[dict]:
    """The attempts logged for one request: from GET /v1/logs/{id} when it shows them, else
    from the RequestLog row itself."""
    logged = iris.log(request_id)
    if "attempts" in logged:
        return logged["attempts"]
    code = (
        "import json; from gateway.models import RequestLog; "
        f"print(json.dumps(RequestLog.objects.get(request_id={request_id!r}).attempts))"
    )
    return json.loads(iris.manage("shell", "-c", code).splitlines()[-1])


def routed_headers(response: httpx.Response) -> tuple[str, str, str]:
    h = response.headers
    return (
        h.get("x-portkey-last-used-option-index"),
        h.get("x-portkey-retry-attempt-count"),
        h.get("x-portkey-cache-status"),
    )


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def row(iris, request_id: str, *fields: str) -> dict:
    """Fields of the RequestLog row itself (ones the logs API does not show)."""
    iris.log(request_id)  # waits for the writer
    code = (
        "import json; from gateway.models import RequestLog; "
        f"r = RequestLog.objects.values(*{list(fields)!r}).get(request_id={request_id!r}); "
        "print(json.dumps(r, default=str))"
    )
    return json.loads(iris.manage("shell", "-c", code).splitlines()[-1])
