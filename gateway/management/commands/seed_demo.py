"""seed_demo: send a dozen realistic vision requests, and a few Images API requests (a streamed
generation, a dall-e-3 one with its revised prompt, an edit with a mask), through Iris to a
built-in fake model.

Everything runs in this process: a tiny fake OpenAI-compatible upstream on 127.0.0.1 (it also
hosts the URL images), and Iris's own ASGI app called in memory. So the logs it leaves are
exactly what real traffic leaves: images in blob storage, streams assembled, errors mapped.
"""

import asyncio
import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from gateway.management.commands._demo_chats import DEMOS, Demo, reply_for
from gateway.management.commands._demo_images import (
    IMAGE_DEMOS,
    image_request_body,
    images_answer,
)
from gateway.models import ApiKey

IMAGES = Path(__file__).resolve().parents[2] / "demo"
PACE = 1.0  # how slowly the fake model answers (tests set 0)
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".gif": "image/gif"}


class FakeModel(BaseHTTPRequestHandler):
    """An OpenAI-compatible model that answers each demo prompt, and an image host."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        file = IMAGES / self.path.removeprefix("/images/")
        if not self.path.startswith("/images/") or not file.is_file():
            return self._send(404, b"not found", "text/plain")
        self._send(200, file.read_bytes(), _MIME.get(file.suffix, "application/octet-stream"))

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if "/images/" in self.path:
            return self._images(body)
        demo = reply_for(body)
        time.sleep(PACE * (0.25 + len(body.get("messages", [])) * 0.1))  # a model takes its time
        if demo is None or isinstance(demo.reply, dict):
            error = demo.reply if demo else {"status": 400, "message": "Unknown demo prompt."}
            payload = {
                "error": {
                    "message": error["message"],
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            }
            return self._send(error["status"], json.dumps(payload).encode(), "application/json")
        message = _message(demo)
        if not body.get("stream"):
            return self._send(
                200, json.dumps(_completion(body, message)).encode(), "application/json"
            )
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for chunk in _chunks(body, message["content"]):
            data = b"data: " + chunk + b"\n\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            time.sleep(PACE * 0.03)
        self.wfile.write(b"0\r\n\r\n")

    def _images(self, body: dict) -> None:
        time.sleep(PACE * 0.8)  # making an image takes a while
        answer, events = images_answer(self.path, body)
        if not body.get("stream"):
            return self._send(200, json.dumps(answer).encode(), "application/json")
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in events:
            data = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            time.sleep(PACE * 0.3)
        self.wfile.write(b"0\r\n\r\n")

    def _send(self, status: int, data: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _message(demo: Demo) -> dict:
    if not demo.tool:
        return {"role": "assistant", "content": demo.reply, "refusal": None}
    arguments = {"query": "red espresso cup with saucer", "category": "kitchen", "limit": 5}
    call = {
        "id": "call_demo_1",
        "type": "function",
        "function": {"name": demo.tool, "arguments": json.dumps(arguments)},
    }
    return {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}


def _usage(body: dict, text: str) -> dict:
    images = json.dumps(body).count('"image_url"')
    prompt, completion = 40 + 255 * images, max(1, len(text.split()) * 4 // 3)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(body: dict, message: dict) -> dict:
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return {
        "id": f"chatcmpl-demo{time.time_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": _usage(body, message.get("content") or ""),
    }


def _chunks(body: dict, text: str) -> Iterator[bytes]:
    head = {
        "id": f"chatcmpl-demo{time.time_ns()}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
    }
    words = text.split(" ")
    deltas = [{"role": "assistant", "content": ""}] + [
        {"content": w if i == 0 else " " + w} for i, w in enumerate(words)
    ]
    for delta in deltas:
        yield json.dumps(
            {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        ).encode()
    yield json.dumps(
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    ).encode()
    if (body.get("stream_options") or {}).get("include_usage"):
        yield json.dumps({**head, "choices": [], "usage": _usage(body, text)}).encode()
    yield b"[DONE]"


def request_body(demo: Demo, host: str) -> dict:
    content: list[dict] = [{"type": "text", "text": demo.prompt}]
    for name in demo.images:
        if name.startswith("url:"):
            url = f"{host}/images/{name.removeprefix('url:')}"
        else:
            data = base64.b64encode((IMAGES / name).read_bytes()).decode()
            url = f"data:{_MIME[Path(name).suffix]};base64,{data}"
        image = {"url": url, **({"detail": demo.detail} if demo.detail else {})}
        content.append({"type": "image_url", "image_url": image})
    messages = [{"role": "system", "content": demo.system}] if demo.system else []
    messages.append({"role": "user", "content": content})
    body: dict = {"model": demo.model, "messages": messages, "max_tokens": 300}
    if demo.stream:
        body.update(stream=True, stream_options={"include_usage": True})
    if demo.tool:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": demo.tool,
                    "description": "Search the store's catalogue.",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "query": {"type": "string"},
                            "category": {"type": "string"},
                            "limit": {"type": "integer"},
                        },
                        "required": ["query"],
                    },
                },
            }
        ]
    return body


class Command(BaseCommand):
    help = (
        "Fill Iris with realistic demo requests, images made too (a built-in fake model answers)."
    )

    def handle(self, *args, **options) -> None:
        key, raw_key = ApiKey.generate("demo (seed_demo)")
        server = ThreadingHTTPServer(("127.0.0.1", 0), FakeModel)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        host = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            # The fake model and image host listen on 127.0.0.1, which the guard refuses.
            with override_settings(GATEWAY_ALLOW_PRIVATE_NETWORKS=True):
                statuses = asyncio.run(self._send_all(host, raw_key))
        finally:
            server.shutdown()
            server.server_close()
            key.revoked_at = timezone.now()  # the demo key has done its job
            key.save(update_fields=["revoked_at"])
        self.stdout.write(
            f"Sent {len(statuses)} demo requests (statuses {' '.join(map(str, statuses))}).\n"
            "Open /logs/ to see them (log in as a staff user: python manage.py createsuperuser)."
        )

    async def _send_all(self, host: str, raw_key: str) -> list[int]:
        from gateway import http
        from gateway import log as request_log
        from gateway.asgi import application

        statuses = []
        for demo in DEMOS:
            headers = _headers(raw_key, host, demo.metadata, demo.trace)
            body = json.dumps(request_body(demo, host)).encode()
            statuses.append(await post(application, "/v1/chat/completions", body, headers))
        for path, body, metadata in IMAGE_DEMOS:
            sent = json.dumps(image_request_body(body)).encode()
            statuses.append(await post(application, path, sent, _headers(raw_key, host, metadata)))
        await request_log.drain()  # URL snapshots and queued rows, written before we return
        await http.close_sessions()
        # Key lookups ran on asgiref's worker thread: close the connection it opened there.
        await sync_to_async(connections.close_all)()
        return statuses


def _headers(raw_key: str, host: str, metadata: dict, trace: str = "") -> dict[str, str]:
    headers = {
        "host": "127.0.0.1",
        "content-type": "application/json",
        "x-portkey-api-key": raw_key,
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{host}/v1",
        "authorization": "Bearer sk-demo-not-a-real-key",
        "x-portkey-metadata": json.dumps({"env": "demo", **metadata}),
    }
    if trace:
        headers["x-portkey-trace-id"] = trace
    return headers


async def post(app: Callable, path: str, body: bytes, headers: dict[str, str]) -> int:
    """One POST straight into an ASGI app (Iris's real entry point); the status it answered."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0

    async def receive() -> dict:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never hangs up; cancelled when done
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status
