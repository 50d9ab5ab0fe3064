"""A chat completion (or its chunks) as a Responses API Response (or its typed events), in
the shapes of the openai SDK's types (openai/types/responses/response.py and the
response_*_event.py modules), so its typed parsers accept them. Pure: no I/O, no Django.

A chat reply's reasoning (message.reasoning_content, message.thinking_blocks: the anthropic,
bedrock and google translators') becomes a `reasoning` output item before the message, as
OpenAI's reasoning models answer: its `summary` holds the text as one summary_text when the
request asked for `reasoning.summary` (else [] as OpenAI's), and `encrypted_content` carries
the signed thinking blocks (REASONING_PREFIX + base64 JSON) so that the item, given back as
input or through previous_response_id, returns them to Claude (translate.py). Streams give
response.reasoning_summary_part.added, .reasoning_summary_text.delta/.done and
.reasoning_summary_part.done (openai/types/responses/response_reasoning_summary_*.py)."""

import base64
import re
import time
import uuid

import orjson

from gateway.providers.base import Stream as ChatStream
from gateway.responses.request import ResponsesRequest, request_id_of

REASONING_PREFIX = "iris-thinking-v1:"
# finish_reason → (status, incomplete_details.reason)
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def shell(request: ResponsesRequest, response_id: str, created: int, status: str) -> dict:
    """The Response around the output: what the request asked, as OpenAI echoes it."""
    body = request.body
    text = body.get("text") or {}
    reasoning = body.get("reasoning") or {}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": request.model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": request.previous_response_id,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": request.store,
        "temperature": body.get("temperature"),
        "text": {"format": text.get("format") or {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": [_tool(tool) for tool in body.get("tools") or ()],
        "top_p": body.get("top_p"),
        "truncation": "disabled",
        "usage": None,
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def _tool(tool: dict) -> dict:
    return {"parameters": None, "strict": None, **tool}  # both required in a Response


def to_response(completion: dict, request: ResponsesRequest, response_id: str) -> dict:
    """A whole chat completion as a Response."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    finish = choice.get("finish_reason")
    status = "incomplete" if finish in _INCOMPLETE else "completed"
    response = shell(request, response_id, _created(completion), status)
    output: list[dict] = []
    if message.get("reasoning_content") or message.get("thinking_blocks"):
        item = reasoning_item(output_item_id("rs", response_id, 0), "completed")
        output.append(
            finish_reasoning(item, request, message.get("reasoning_content") or "",
                             message.get("thinking_blocks") or [])
        )  # fmt: skip
    text, calls = message.get("content"), message.get("tool_calls") or []
    if text or message.get("refusal") or not calls:
        item = message_item(output_item_id("msg", response_id, len(output)), status)
        if message.get("refusal"):
            item["content"].append({"type": "refusal", "refusal": message["refusal"]})
        else:
            item["content"].append(text_part(text or ""))
        output.append(item)
    for call in calls:
        fn = call.get("function") or {}
        item_id = output_item_id("fc", response_id, len(output))
        item = call_item(item_id, call.get("id") or _new_id("call"), fn.get("name") or "")
        output.append({**item, "arguments": fn.get("arguments") or "", "status": "completed"})
    response.update(output=output, usage=usage(completion.get("usage")))
    response["completed_at"] = int(time.time())
    if finish in _INCOMPLETE:
        response["incomplete_details"] = {"reason": _INCOMPLETE[finish]}
    return response


def reasoning_item(item_id: str, status: str) -> dict:
    return {"id": item_id, "type": "reasoning", "summary": [], "status": status}


def wants_summary(request: ResponsesRequest) -> bool:
    return bool((request.body.get("reasoning") or {}).get("summary"))


def finish_reasoning(item: dict, request: ResponsesRequest, text: str, blocks: list) -> dict:
    """The reasoning item with its summary (when asked for) and its signed blocks."""
    if text and wants_summary(request):
        item["summary"] = [{"type": "summary_text", "text": text}]
    signed = [b for b in blocks if isinstance(b, dict) and (b.get("signature") or b.get("data"))]
    if signed:
        item["encrypted_content"] = REASONING_PREFIX + base64.b64encode(
            orjson.dumps(signed)
        ).decode("ascii")
    return item


def message_item(item_id: str, status: str) -> dict:
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": []}


def text_part(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def call_item(item_id: str, call_id: str, name: str) -> dict:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": "",
        "status": "in_progress",
    }


def usage(chat_usage: object) -> dict | None:
    if not isinstance(chat_usage, dict):
        return None
    prompt, completion = (
        chat_usage.get("prompt_tokens") or 0,
        chat_usage.get("completion_tokens") or 0,
    )
    cached = (chat_usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (chat_usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": cached,
            "cache_write_tokens": chat_usage.get("cache_creation_input_tokens") or 0,
        },
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": chat_usage.get("total_tokens") or prompt + completion,
    }


def _created(completion: dict) -> int:
    created = completion.get("created")
    return created if isinstance(created, int) else int(time.time())


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def output_item_id(prefix: str, response_id: str, index: int) -> str:
    """An output item's id that leads back to it: `msg_<request id>_o<index>` (a client may
    send it back as an item_reference; see OUTPUT_ITEM)."""
    request_id = request_id_of(response_id)
    return f"{prefix}_{request_id}_o{index}" if request_id else _new_id(prefix)


OUTPUT_ITEM = re.compile(r"(?:msg|fc|rs)_([0-9a-f]{32})_o(\d{1,4})")


class ResponseStream:
    """A provider's chat Stream, its chunks turned into Responses events as they come:
    response.created and .in_progress first; each text run a message item (added, content
    part added, text deltas, then the .done events), each tool call a function_call item
    (added, argument deltas, .done); response.completed (or .incomplete) at the end. An
    error chunk ends it in response.failed and an `error` event, which carries OpenAI's
    error object too (the SDKs raise on it; the relay logs it)."""

    def __init__(self, chat_stream: ChatStream, request: ResponsesRequest, response_id: str):
        self._inner = chat_stream
        self._request, self._id = request, response_id
        self._created = int(time.time())
        self._sequence = 0
        self._started = self._ended = False
        self._output: list[dict] = []
        self._open: dict | None = None  # the item being streamed
        self._call_index: int | None = None  # its chat tool call index, for a function_call
        self._finish: str | None = None
        self._usage: dict | None = None

    def feed(self, data: bytes) -> list[dict]:
        return self._events(self._inner.feed(data))

    def close(self) -> list[dict]:
        out = self._events(self._inner.close())
        if not self._ended:
            out += self._complete()
        return out

    def _events(self, chunks: list[dict]) -> list[dict]:
        out = self._start() if not self._started else []
        for chunk in chunks:
            if self._ended:
                break
            if "error" in chunk and "choices" not in chunk:
                out += self._fail(chunk["error"] if isinstance(chunk["error"], dict) else {})
                continue
            if isinstance(chunk.get("usage"), dict):
                self._usage = chunk["usage"]
            for choice in (chunk.get("choices") or [])[:1]:
                delta = choice.get("delta") or {}
                if delta.get("reasoning_content") or delta.get("thinking_blocks"):
                    out += self._reasoning(delta)
                if delta.get("content"):
                    out += self._text(delta["content"])
                for call in delta.get("tool_calls") or ():
                    out += self._call(call)
                self._finish = choice.get("finish_reason") or self._finish
        return out

    def next_sequence(self) -> int:
        """The sequence_number an event of Iris's own would take next (see proxy.relay)."""
        self._sequence += 1
        return self._sequence - 1

    def _event(self, kind: str, **fields) -> dict:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _response(self, status: str) -> dict:
        response = shell(self._request, self._id, self._created, status)
        response["output"] = list(self._output)
        return response

    def _start(self) -> list[dict]:
        self._started = True
        return [
            self._event("response.created", response=self._response("in_progress")),
            self._event("response.in_progress", response=self._response("in_progress")),
        ]

    def _text(self, text: str) -> list[dict]:
        out = []
        if self._open is None or self._open["type"] != "message":
            out += self._close_item()
            item_id = output_item_id("msg", self._id, len(self._output))
            self._open = message_item(item_id, "in_progress")
            self._open["_text"] = []
            out.append(self._added())
            out.append(self._part_event("response.content_part.added", text_part("")))
        self._open["_text"].append(text)
        where = self._where()
        out.append(
            self._event(
                "response.output_text.delta", **where, content_index=0, delta=text, logprobs=[]
            )
        )
        return out

    def _reasoning(self, delta: dict) -> list[dict]:
        out = []
        if self._open is None or self._open["type"] != "reasoning":
            out += self._close_item()
            item_id = output_item_id("rs", self._id, len(self._output))
            self._open = {**reasoning_item(item_id, "in_progress"), "_text": [], "_blocks": []}
            out.append(self._added())
        blocks = delta.get("thinking_blocks")
        self._open["_blocks"] += blocks if isinstance(blocks, list) else []
        text = delta.get("reasoning_content")
        if not isinstance(text, str) or not text or not wants_summary(self._request):
            return out
        if not self._open["_text"]:
            part = {"type": "summary_text", "text": ""}
            out.append(self._summary_event("response.reasoning_summary_part.added", part=part))
        self._open["_text"].append(text)
        out.append(self._summary_event("response.reasoning_summary_text.delta", delta=text))
        return out

    def _summary_event(self, kind: str, **fields) -> dict:
        return self._event(kind, **self._where(), summary_index=0, **fields)

    def _call(self, call: dict) -> list[dict]:
        out = []
        index, fn = call.get("index", 0), call.get("function") or {}
        if self._open is None or self._open["type"] != "function_call" or index != self._call_index:
            out += self._close_item()
            call_id = call.get("id") or _new_id("call")
            item_id = output_item_id("fc", self._id, len(self._output))
            self._open = call_item(item_id, call_id, fn.get("name") or "")
            self._call_index = index
            out.append(self._added())
        elif fn.get("name"):
            self._open["name"] += fn["name"]
        if arguments := fn.get("arguments"):
            self._open["arguments"] += arguments
            out.append(
                self._event(
                    "response.function_call_arguments.delta", **self._where(), delta=arguments
                )
            )
        return out

    def _where(self) -> dict:
        assert self._open is not None
        return {"item_id": self._open["id"], "output_index": len(self._output)}

    def _added(self) -> dict:
        item = {k: v for k, v in (self._open or {}).items() if not k.startswith("_")}
        return self._event("response.output_item.added", output_index=len(self._output), item=item)

    def _part_event(self, kind: str, part: dict) -> dict:
        return self._event(kind, **self._where(), content_index=0, part=part)

    def _close_item(self, status: str = "completed") -> list[dict]:
        item, out = self._open, []
        if item is None:
            return out
        where = self._where()
        if item["type"] == "message":
            text = "".join(item.pop("_text"))
            out.append(
                self._event(
                    "response.output_text.done", **where, content_index=0, text=text, logprobs=[]
                )
            )
            out.append(self._part_event("response.content_part.done", text_part(text)))
            item["content"] = [text_part(text)]
        elif item["type"] == "reasoning":
            text = "".join(item.pop("_text"))
            if text:
                out.append(self._summary_event("response.reasoning_summary_text.done", text=text))
                part = {"type": "summary_text", "text": text}
                out.append(self._summary_event("response.reasoning_summary_part.done", part=part))
            finish_reasoning(item, self._request, text, item.pop("_blocks"))
        else:
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    **where,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
        item["status"] = status
        out.append(
            self._event("response.output_item.done", output_index=where["output_index"], item=item)
        )
        self._output.append(item)
        self._open = None
        return out

    def _complete(self) -> list[dict]:
        self._ended = True
        incomplete = _INCOMPLETE.get(self._finish or "")
        out = self._close_item("incomplete" if incomplete else "completed")
        response = self._response("incomplete" if incomplete else "completed")
        response["usage"] = usage(self._usage)
        response["completed_at"] = int(time.time())
        if incomplete:
            response["incomplete_details"] = {"reason": incomplete}
        kind = "response.incomplete" if incomplete else "response.completed"
        return [*out, self._event(kind, response=response)]

    def _fail(self, error: dict) -> list[dict]:
        self._ended = True
        message = str(error.get("message") or "The upstream failed during the stream.")
        code = error.get("code") or error.get("type") or "server_error"
        response = self._response("failed")
        response["error"] = {"code": "server_error", "message": message}
        failed = self._event("response.failed", response=response)
        detail = {
            "type": error.get("type") or "api_error",
            "code": code,
            "message": message,
            "param": None,
        }
        return [failed, self._event("error", code=code, message=message, param=None, error=detail)]
