"""GET /v1/logs/export over a real socket from a real Iris (uvicorn, the lean /v1/ handler):
the zip streams in chunks from the async path and holds the request's image once."""

import base64
import hashlib
import time
import uuid

import httpx

from tests.exports.zips import read_export
from tests.ui.logs import png


def test_a_real_iris_streams_the_export_of_a_filter(iris, fake_openai):
    image = png((64, 48), color=(10, 200, 90))
    uri = "data:image/png;base64," + base64.b64encode(image).decode()
    trace = f"export-{uuid.uuid4().hex[:8]}"
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": uri}},
        {"type": "image_url", "image_url": {"url": uri}},
    ]
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    headers = iris.headers(
        **{
            "x-portkey-custom-host": f"{fake_openai.url}/v1",
            "x-portkey-provider": "openai",
            "authorization": "Bearer sk-test",
            "x-portkey-trace-id": trace,
        }
    )
    sent = httpx.post(f"{iris.url}/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert sent.status_code == 200, sent.text
    # A key of its own that may read the logs (new keys may not by default).
    reader = {"x-portkey-api-key": iris.manage("create_api_key", "--read-logs", "exporter")}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the log writer is a background thread
        found = httpx.get(f"{iris.url}/v1/logs", params={"trace_id": trace}, headers=reader)
        if found.json()["data"]:
            break
        time.sleep(0.05)

    chunks = []
    with httpx.stream(
        "GET",
        f"{iris.url}/v1/logs/export",
        params={"trace_id": trace},
        headers=reader,
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
        assert response.headers["x-iris-export-records"] == "1"
        assert response.headers["x-iris-export-image-bytes"] == str(len(image))
        chunks = list(response.iter_raw())
    (line,), images, _ = read_export(b"".join(chunks))
    name = f"images/{hashlib.sha256(image).hexdigest()}.png"
    assert images == {name: image}
    parts = line["messages"][0]["content"]
    assert [p["image_url"]["url"] for p in parts[1:]] == [name, name]
    assert line["trace_id"] == trace and line["status"] == 200
    assert line["output"]["content"]

    refused = httpx.get(f"{iris.url}/v1/logs/export", timeout=10)
    assert refused.status_code == 401
