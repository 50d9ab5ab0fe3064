"""A fake OpenAI Responses API: POST /v1/responses (JSON and typed SSE events), GET and DELETE
/v1/responses/{id}, GET /v1/responses/{id}/input_items.

Each body is checked against the `openai` SDK's ResponseCreateParams TypedDicts with
tests/fakes/schema.check() (their Required keys restored, as for the fake Anthropic), and
each answer and event is validated with the SDK's own pydantic models before it is sent.
The key must come as `Authorization: Bearer sk-...`; "bad-key" answers OpenAI's 401.

The model answers "You said: <the last input text>", or calls the first function tool when
tools are given and the input holds no function_call_output. Responses are kept in memory
(store: false ones are not), so GET, DELETE and input_items work as at OpenAI.
"""

import json
import re
import time
import uuid

import pydantic
from openai.types.responses import Response, ResponseItemList, ResponseStreamEvent
from openai.types.responses import response_create_params as params

from tests.fakes.anthropic import _restore_required_keys
from tests.fakes.schema import SchemaError, check
from tests.fakes.server import Received, Reply

_seen: set = set()
for _tp in (params.ResponseCreateParamsNonStreaming, params.ResponseCreateParamsStreaming):
    _restore_required_keys(_tp, _seen)

EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)
PATH = re.compile(r"^/v1/responses(?:/(?P<id>[^/?]+)(?P<items>/input_items)?)?(?:\?.*)?$")
stored: dict[str, tuple[dict, list[dict]]] = {}  # id → (response, input items)


def handle(request: Received) -> Reply:
    match = PATH.match(request.path)
    if not match:
        return error(404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error")
    token = request.headers.get("authorization", "")
    if not token.startswith("Bearer sk-") or token == "Bearer bad-key":
        return error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
    response_id = match["id"]
    if response_id is None and request.method == "POST":
        return create(request)
    if response_id not in stored:
        return error(404, f"Response with id '{response_id}' not found.", "invalid_request_error")
    response, items = stored[response_id]
    if request.method == "DELETE":
        del stored[response_id]
        return Reply.json(200, {"id": response_id, "object": "response", "deleted": True})
    if match["items"]:
        listed = {
            "object": "list",
            "data": items,
            "first_id": items[0]["id"],
            "last_id": items[-1]["id"],
            "has_more": False,
        }
        return Reply.json(200, ResponseItemList.model_validate(listed).model_dump(mode="json"))
    return Reply.json(200, response)


def create(request: Received) -> Reply:
    try:
        body = json.loads(request.body)
    except ValueError:
        return error(
            400, "We could not parse the JSON body of your request.", "invalid_request_error"
        )
    stream = body.get("stream") is True
    schema = (
        params.ResponseCreateParamsStreaming if stream else params.ResponseCreateParamsNonStreaming
    )
    try:
        check(body, schema)
    except SchemaError as exc:
        return error(400, str(exc), "invalid_request_error")
    previous = body.get("previous_response_id")
    if previous and previous not in stored:
        message = f"Previous response with id '{previous}' not found."
        return error(404, message, "invalid_request_error")
    response = answer(body)
    Response.model_validate(response)
    if body.get("store") is not False:
        stored[response["id"]] = (response, input_items(body))
    if not stream:
        return Reply.json(200, response, **{"x-request-id": "req_fake_responses"})
    return Reply(200, headers={"content-type": "text/event-stream"}, chunks=events(response))


def items_of(body: dict) -> list[dict]:
    value = body.get("input") or []
    return (
        [{"type": "message", "role": "user", "content": value}] if isinstance(value, str) else value
    )


def input_items(body: dict) -> list[dict]:
    out = []
    for k, item in enumerate(items_of(body)):
        content = item.get("content")
        if isinstance(content, str):
            content = [{"type": "input_text", "text": content}]
        out.append(
            {
                "id": f"msg_in{k}",
                "status": "completed",
                "type": "message",
                **item,
                "content": content,
            }
        )
    return out


def answer(body: dict) -> dict:
    items = items_of(body)
    texts = [
        part.get("text", "") if isinstance(part, dict) else ""
        for item in items
        for part in (
            [{"text": item["content"]}]
            if isinstance(item.get("content"), str)
            else item.get("content") or ()
        )
    ]
    said = next((t for t in reversed(texts) if t), "")
    answered = any(item.get("type") == "function_call_output" for item in items)
    tools = [t for t in body.get("tools") or () if t.get("type") == "function"]
    if tools and not answered:
        output = [
            {
                "id": f"fc_{uuid.uuid4().hex}",
                "type": "function_call",
                "call_id": f"call_{uuid.uuid4().hex[:12]}",
                "name": tools[0]["name"],
                "arguments": json.dumps({"query": said}),
                "status": "completed",
            }
        ]
    else:
        text = f"You said: {said}"
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        output = [
            {"id": f"msg_{uuid.uuid4().hex}", "type": "message", "role": "assistant",
             "status": "completed", "content": [part]}
        ]  # fmt: skip
    return {
        "id": f"resp_{uuid.uuid4().hex}{uuid.uuid4().hex[:16]}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "model": body["model"],
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "store": body.get("store") is not False,
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": [{"strict": None, "parameters": None, **tool} for tool in tools],
        "top_p": 1.0,
        "usage": {
            "input_tokens": 12,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 4,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 16,
        },
        "metadata": body.get("metadata") or {},
    }


def events(response: dict):
    """The response as OpenAI streams it: every event validated by the SDK first."""
    sequence = iter(range(1000))
    start = {**response, "status": "in_progress", "output": [], "usage": None}

    def event(kind: str, **fields) -> bytes:
        data = {"type": kind, "sequence_number": next(sequence), **fields}
        EVENTS.validate_python(data)
        return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()

    yield event("response.created", response=start)
    yield event("response.in_progress", response=start)
    if "[fail-stream]" in json.dumps(response["output"]):  # OpenAI's error event, then nothing
        yield event("error", code="server_error", message="The model crashed.", param=None)
        return
    for index, item in enumerate(response["output"]):
        where = {"item_id": item["id"], "output_index": index}
        if item["type"] == "message":
            text = item["content"][0]["text"]
            empty = {**item["content"][0], "text": ""}
            yield event("response.output_item.added", output_index=index,
                        item={**item, "status": "in_progress", "content": []})  # fmt: skip
            yield event("response.content_part.added", **where, content_index=0, part=empty)
            for n, word in enumerate(text.split(" ")):
                delta = word if n == 0 else " " + word
                yield event(
                    "response.output_text.delta", **where, content_index=0, delta=delta, logprobs=[]
                )
            yield event(
                "response.output_text.done", **where, content_index=0, text=text, logprobs=[]
            )
            yield event(
                "response.content_part.done", **where, content_index=0, part=item["content"][0]
            )
        else:
            yield event("response.output_item.added", output_index=index,
                        item={**item, "status": "in_progress", "arguments": ""})  # fmt: skip
            yield event("response.function_call_arguments.delta", **where, delta=item["arguments"])
            yield event(
                "response.function_call_arguments.done", **where, arguments=item["arguments"]
            )
        yield event("response.output_item.done", output_index=index, item=item)
    yield event("response.completed", response=response)


def error(status: int, message: str, kind: str, code: str | None = None) -> Reply:
    return Reply.json(
        status, {"error": {"message": message, "type": kind, "param": None, "code": code}}
    )
