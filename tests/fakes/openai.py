"""A fake OpenAI upstream: checks each body against the `openai` SDK's request types.
The Images API (generations, edits, variations) is in tests/fakes/openai_images.py.

Behaviour by model name: "fail-429" answers a rate-limit error, "slow" sleeps 3 s,
"die" breaks the stream after two chunks, "echo-mid-stream" sends an error event after two
chunks that echoes the key it got (as a careless upstream might); anything else answers
with how many images it saw and the last user text, so tests can tell what really arrived.

Structured outputs (platform.openai.com/docs/guides/structured-outputs, read 2026-11): a
response_format json_schema is answered with JSON text in message.content that matches the
schema (tests/fakes/json_schema.py; its strings are the last user text), json_object with
{"answer": <last user text>}. Refused as OpenAI refuses them: a schema name outside
[A-Za-z0-9_-]{1,64}, a strict schema outside strict mode's rules, json_object when no
message contains the word "json".
"""

import json
import time
from pathlib import Path

from openai.types.chat import completion_create_params as params

from tests.fakes import openai_images as images
from tests.fakes.json_schema import STRICT_NAME, instance, strict_problem
from tests.fakes.schema import SchemaError, check
from tests.fakes.server import Received, Reply

IMAGE_PATHS = ("/images/generations", "/images/edits", "/images/variations")
IMAGES = Path(__file__).resolve().parents[3] / "shared" / "images"


def handle(request: Received) -> Reply:
    if request.method == "GET":
        if request.path.startswith("/generated/"):
            return images.serve_generated(request.path)
        return serve_image(request.path)
    if not request.path.endswith(IMAGE_PATHS + ("/chat/completions",)):
        return _error(404, f"Unknown path {request.path}", "not_found_error")
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return _error(401, "You didn't provide an API key.", "invalid_request_error")
    if request.path.endswith(IMAGE_PATHS):
        return images.handle(request, f"http://{request.headers.get('host', '127.0.0.1')}")
    try:
        body = request.json()
        stream = bool(body.get("stream"))
        check(
            body,
            params.CompletionCreateParamsStreaming
            if stream
            else params.CompletionCreateParamsNonStreaming,
        )
    except (ValueError, SchemaError) as exc:
        return _error(400, f"Invalid request: {exc}", "invalid_request_error")
    if refused := response_format_problem(body):
        return _error(400, refused[0], "invalid_request_error", param=refused[1])
    model = body["model"]
    if model == "fail-429":
        return _error(
            429, "Rate limit reached for requests", "requests", code="rate_limit_exceeded"
        )
    if model == "slow":
        time.sleep(3)
    text = structured_reply(body) or reply_text(body)
    if not stream:
        return Reply.json(200, completion(model, text), **{"x-request-id": "req_fake"})
    include_usage = (body.get("stream_options") or {}).get("include_usage")
    return Reply(
        200,
        headers={"content-type": "text/event-stream"},
        chunks=stream_chunks(
            model,
            text,
            include_usage,
            die=model == "die",
            echo=request.headers["authorization"] if model == "echo-mid-stream" else "",
        ),
        die=model == "die",
    )


def reply_text(body: dict) -> str:
    images, last_text = 0, ""
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, str):
            last_text = content
        elif isinstance(content, list):
            for part in content:
                if part.get("type") == "image_url":
                    images += 1
                elif part.get("type") == "text":
                    last_text = part["text"]
    return f"I see {images} image(s). You said: {last_text}"


def response_format_problem(body: dict) -> tuple[str, str] | None:
    """(OpenAI's message, param) for a response_format it would refuse, or None."""
    fmt = body.get("response_format") or {}
    said_json = "json" in json.dumps(body["messages"]).lower()
    if fmt.get("type") == "json_object" and not said_json:
        message = (
            "'messages' must contain the word 'json' in some form, to use "
            "'response_format' of type 'json_object'."
        )
        return message, "messages"
    if fmt.get("type") == "json_schema":
        spec = fmt["json_schema"]
        if not STRICT_NAME.fullmatch(spec["name"]):
            return (
                "Invalid 'response_format.json_schema.name': string does not match pattern. "
                "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                "response_format.json_schema.name",
            )
        if spec.get("strict") and (problem := strict_problem(spec.get("schema"))):
            message = f"Invalid schema for response_format '{spec['name']}': {problem}"
            return message, "response_format"
    return None


def structured_reply(body: dict) -> str | None:
    """The JSON text a model answers under response_format json_schema / json_object."""
    fmt, said = body.get("response_format") or {}, reply_text(body).split("You said: ", 1)[1]
    if fmt.get("type") == "json_schema":
        return json.dumps(instance(fmt["json_schema"].get("schema") or {}, said))
    if fmt.get("type") == "json_object":
        return json.dumps({"answer": said})
    return None


def completion(model: str, text: str) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": text, "refusal": None},
            }
        ],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": len(text.split()),
            "total_tokens": 11 + len(text.split()),
        },
    }


def stream_chunks(model: str, text: str, include_usage: bool, die: bool = False, echo: str = ""):
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model}

    def event(data: dict) -> bytes:
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    yield event(
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            ],
        }
    )
    words = text.split(" ")
    for i, word in enumerate(words):
        if die and i == 2:
            return
        if echo and i == 2:
            yield event({"error": {"message": f"Overloaded ({echo})", "type": "server_error"}})
            return
        piece = word if i == 0 else " " + word
        yield event(
            {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        )
    yield event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if include_usage:
        yield event(
            {
                **base,
                "choices": [],
                "usage": {
                    "prompt_tokens": 11,
                    "completion_tokens": len(words),
                    "total_tokens": 11 + len(words),
                },
            }
        )
    yield b"data: [DONE]\n\n"


def serve_image(path: str) -> Reply:
    """Image hosting for URL-image tests: /images/<file>, /redirect/<file>, /not-an-image."""
    if path.startswith("/redirect/"):
        return Reply(302, headers={"location": "/images/" + path.removeprefix("/redirect/")})
    if path == "/not-an-image":
        return Reply(200, b"<html>hello</html>", {"content-type": "text/html"})
    name = path.removeprefix("/images/")
    file = IMAGES / name
    if not path.startswith("/images/") or "/" in name or not file.is_file():
        return Reply(404, b"not found", {"content-type": "text/plain"})
    kind = "image/png" if name.endswith(".png") else "image/jpeg"
    return Reply(200, file.read_bytes(), {"content-type": kind})


def _error(
    status: int, message: str, type_: str, param: str | None = None, code: str | None = None
) -> Reply:
    return Reply.json(
        status, {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )
