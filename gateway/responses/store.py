"""The request log as the Responses API's store, for the responses Iris made itself.

A response lives as long as its log record (LOG_RETENTION_DAYS). `store: false` keeps it
out of reach (GET answers 404, previous_response_id cannot name it) though the log still
holds the request, as it holds every request. DELETE marks the record (its metadata
`iris_response_deleted`, no migration): the response is then gone for the API, the log
keeps it. A record is reachable with the key that made it (or with any key, when it was
made without one). Sync functions: call them through gateway.db.orm.
"""

import base64

import orjson
from django.core.files.storage import default_storage
from django.utils import timezone

from gateway.errors import GatewayError
from gateway.models import RequestLog
from gateway.responses.events import text_part
from gateway.responses.request import iris_id, request_id_of

DELETED = "iris_response_deleted"
MAX_DEPTH = 100  # previous_response_id links followed, at most


def find(request_id: str, key_id: int | None) -> RequestLog | None:
    """The record of a stored, undeleted response, or None."""
    log = RequestLog.objects.filter(request_id=request_id, endpoint="responses").first()
    if log is None or (log.api_key_id is not None and log.api_key_id != key_id):
        return None
    body, answer = log.request_body or {}, log.response_body or {}
    if body.get("store") is False or (log.metadata or {}).get(DELETED):
        return None
    return log if answer.get("object") == "response" else None


def made_by(response_id: str, key) -> bool:
    """Whether a provider's response id came back to this gateway key (through Iris)."""
    logs = RequestLog.objects.filter(endpoint="responses", api_key=key)
    return logs.filter(response_body__id=response_id).exists()


def mark_deleted(log: RequestLog) -> None:
    log.metadata = {**(log.metadata or {}), DELETED: timezone.now().isoformat()}
    log.save(update_fields=["metadata"])


def not_found(response_id: str, param: str | None = None) -> GatewayError:
    what = "Previous response" if param else "Response"
    return GatewayError(
        404, f"{what} with id '{response_id[:80]}' not found.", code="not_found", param=param
    )


def conversation(logs: list[RequestLog], budget: int) -> tuple[list[dict], list[dict], int]:
    """The items of a chain of records, oldest first (each one's input, then its output):
    with their images and PDFs inline as data URIs, and as the log keeps them (references),
    and how many bytes they take. Past `budget` bytes (JSON and base64 together): a 400."""
    full: list[dict] = []
    logged: list[dict] = []
    left = [budget]
    for log in reversed(logs):
        items = input_items(log.request_body or {})
        output = [
            item
            for item in (log.response_body or {}).get("output") or ()
            if isinstance(item, dict) and item.get("type") in ("message", "function_call")
        ]
        left[0] -= len(orjson.dumps(items)) + len(orjson.dumps(output))
        if left[0] < 0:
            raise _too_large()
        full += [*with_bytes(log, items, left), *output]
        logged += [*items, *output]
    return full, logged, budget - left[0]


def previous_of(log: RequestLog) -> str | None:
    value = (log.request_body or {}).get("previous_response_id")
    return value if isinstance(value, str) and value else None


def input_items(body: dict) -> list[dict]:
    value = body.get("input")
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def with_bytes(log: RequestLog, items: list[dict], left: list[int]) -> list[dict]:
    """The items with each base64 image and PDF put back from blob storage."""
    items = list(items)
    images = log.images.filter(origin="base64", role="input").select_related("blob")
    for image in images:
        if image.blob is None:
            raise GatewayError(
                409,
                f"An image or file of response {iris_id(log.request_id)} is no longer in "
                "blob storage: the conversation cannot be rebuilt.",
                code="blob_missing",
                param="previous_response_id",
            )
        left[0] -= image.blob.size * 4 // 3  # it goes upstream as base64
        if left[0] < 0:
            raise _too_large()
        with default_storage.open(image.blob.storage_name) as f:
            encoded = base64.b64encode(f.read()).decode()
        item = items[image.message_index] = dict(items[image.message_index])
        content = item["content"] = list(item["content"])
        part = dict(content[image.part_index])
        key = "file_data" if part.get("type") == "input_file" else "image_url"
        part[key] = image.data_uri_prefix + encoded
        content[image.part_index] = part
    return items


def _too_large() -> GatewayError:
    return GatewayError(
        400,
        "The conversation (its items, images and files) is larger than the gateway's body "
        "limit (GATEWAY_MAX_BODY_BYTES).",
        code="conversation_too_large",
        param="previous_response_id",
    )


def item_list(log: RequestLog, query: dict) -> dict:
    """GET /v1/responses/{id}/input_items: the request's input items, as OpenAI lists them
    (ids given to the items that had none, newest first unless order=asc)."""
    items = [
        _listed(item, f"{log.request_id}_{k}")
        for k, item in enumerate(with_bytes(log, input_items(log.request_body or {}), [1 << 62]))
    ]
    if query.get("order", "desc") != "asc":
        items.reverse()
    if after := query.get("after"):
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    limit = query["limit"]
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }


def _listed(item: dict, suffix: str) -> dict:
    kind = item.get("type") or "message"
    if kind != "message":
        prefix = {"function_call": "fc", "function_call_output": "fco"}.get(kind, "item")
        return {"id": f"{prefix}_{suffix}", "status": "completed", **item}
    content = item.get("content")
    if item.get("role") == "assistant":
        parts = [text_part(content)] if isinstance(content, str) else content
        return {
            "id": f"msg_{suffix}",
            "status": "completed",
            **item,
            "type": "message",
            "content": parts,
        }
    if isinstance(content, str):
        content = [{"type": "input_text", "text": content}]
    content = [
        {"detail": "auto", **part} if part.get("type") == "input_image" else part
        for part in content or ()
    ]
    return {
        "id": f"msg_{suffix}",
        "status": "completed",
        **item,
        "type": "message",
        "content": content,
    }


def check_previous(log: RequestLog) -> str | None:
    """The request id of the record's own previous response (None at the chain's start);
    a 400 when it names a provider's response, which Iris cannot fetch."""
    previous = previous_of(log)
    if previous is None:
        return None
    rid = request_id_of(previous)
    if rid is None:
        raise GatewayError(
            400,
            f"The conversation goes back to '{previous[:80]}', a response Iris did not make; "
            "it cannot be continued on this route.",
            code="invalid_previous_response",
            param="previous_response_id",
        )
    return rid
