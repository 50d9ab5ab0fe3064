"""One logged request as the logs API and UI show it: its summary, its images and outputs,
the request body as the client sent it."""

import base64

from django.core.files.storage import default_storage

from gateway.models import LogImage, RequestLog
from gateway.pricing import decimal_str

INPUT_ROLES = ("input", "mask")  # what the client sent; "output" and "partial" the model made


def other_uses(sha256: str, *, log_id: int, cap: int = 1000) -> int:
    """How many other requests sent this image, counted up to cap (a popular image is cheap)."""
    uses = LogImage.objects.filter(blob_id=sha256).exclude(log_id=log_id)
    return uses.order_by().values("log_id").distinct()[:cap].count()


def original_request(log: RequestLog) -> dict | None:
    """Rebuild the request body exactly as the client sent it, images included."""
    body = log.request_body
    if not body or "messages" not in body:
        return body
    messages = [dict(m) for m in body["messages"]]
    for image in log.images.filter(origin="base64", role="input").select_related("blob"):
        if image.blob is None:
            continue
        with default_storage.open(image.blob.storage_name) as f:
            encoded = base64.b64encode(f.read()).decode()
        content = messages[image.message_index]["content"] = list(
            messages[image.message_index]["content"]
        )
        part = dict(content[image.part_index])
        uri = image.data_uri_prefix + encoded
        if part.get("type") == "file":  # a PDF (see gateway/chat.py's documents)
            part["file"] = {**part["file"], "file_data": uri}
        else:
            part["image_url"] = {**part["image_url"], "url": uri}
        content[image.part_index] = part
    return {**body, "messages": messages}


def image_dict(image: LogImage) -> dict:
    blob = image.blob
    return {
        "id": image.id,
        "role": image.role,
        "message_index": image.message_index,
        "part_index": image.part_index,
        "origin": image.origin,
        "url": image.url or None,
        "detail": image.detail or None,
        "fetch_ms": image.fetch_ms,  # a URL image's fetch by Iris; null when not fetched
        "error": image.error or None,
        "sha256": blob.sha256 if blob else None,
        "mime": blob.mime if blob else None,
        "width": blob.width if blob else None,
        "height": blob.height if blob else None,
        "bytes": blob.size if blob else None,
        # A PDF's page count (documents are kept as blobs too); None for an image.
        "pages": blob.frames if blob and blob.mime == "application/pdf" else None,
        # The image as the model saw it (gateway/vision.py); null where no rule is known.
        "estimated_tokens": image.estimated_tokens,
        "seen_width": image.seen_width,
        "seen_height": image.seen_height,
        "grid": image.grid,
    }


SUMMARY_FIELDS = (
    "id",
    "request_id",
    "provider",
    "provider_slug",
    "model",
    "trace_id",
    "metadata",
    "status_code",
    "error_type",
    "error_message",
    "is_stream",
    "chunk_count",
    "latency_ms",
    "ttft_ms",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "image_count",
    "output_image_count",
    "endpoint",
    "prompt_preview",
    "reply_preview",
    "prompt",
    "prompt_version",
    "prompt_variables",
    "degraded",
    "dropped_params",
    "estimated_prompt_tokens",
    "cost_usd",
    "cost_breakdown",
    # Routing by a config: which one, each attempt as stored (they hold no credentials: the
    # runner scrubs upstream errors), and what happened overall.
    "config_id",
    "attempts",
    "retried",
    "fell_back",
    "cache_status",
)


def output_dict(image: LogImage, revised: dict[int, str]) -> dict:
    """An output image as the API lists it: image_dict, its place among the outputs, and
    whether it is a partial image streamed on the way (and which)."""
    partial = image.role == "partial"
    return {
        **image_dict(image),
        "index": image.part_index,
        "partial": partial,
        "partial_index": image.partial_index if partial else None,
        "revised_prompt": None if partial else revised.get(image.part_index),
    }


def output_order(image: LogImage) -> tuple:
    """Outputs first (by choice, then index), then partial images (by index, then partial)."""
    partial = image.role == "partial"
    return (partial, image.message_index, image.part_index, image.partial_index or 0)


def revised_prompts(response_body: object) -> dict[int, str]:
    """The prompt the model actually used, per output index, where the provider says it
    (an Images API answer's `data[i].revised_prompt`)."""
    data = response_body.get("data") if isinstance(response_body, dict) else None
    return {
        i: item["revised_prompt"]
        for i, item in enumerate(data if isinstance(data, list) else ())
        if isinstance(item, dict) and isinstance(item.get("revised_prompt"), str)
    }


def summary_dict(log: RequestLog) -> dict:
    out = {name: getattr(log, name) for name in SUMMARY_FIELDS}
    out["created_at"] = log.created_at.isoformat()
    out["api_key"] = log.api_key.name if log.api_key_id and log.api_key else None
    # A string, as Django's JSON encoder writes every Decimal: no float rounding. null: unknown.
    out["cost_usd"] = decimal_str(log.cost_usd)
    out["estimate_difference"] = log.estimate_difference  # reported minus estimated tokens
    return out
