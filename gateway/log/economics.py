"""The log's view of what a request cost: each input image as the model saw it, the input
tokens Iris expected, and the price of what the provider reported. Computed in the log
writer's thread, never on the request path; a failure here costs the estimate, not the row."""

import logging
from decimal import Decimal

from gateway import estimate, price_overrides, pricing
from gateway.images import Image
from gateway.log.record import Record

log = logging.getLogger(__name__)


def request_estimate(record: Record) -> estimate.Estimate | None:
    """The record's estimate, computed once (image_fields and record_fields both ask)."""
    if record._estimate is None and record.chat is not None and record.provider:
        try:
            images = estimate.request_images(record.chat)
            record._estimate = estimate.estimate(
                record.provider,
                record.model,
                images,
                estimate.request_texts(record.chat),
                getattr(record.chat, "body", None),
            )
        except Exception:
            log.exception("no estimate for log record %s", record.request_id)
            record._estimate = False
    return record._estimate or None


def image_fields(record: Record, img: Image) -> dict:
    """The LogImage fields of one image as the model saw it (empty if not estimated)."""
    found = request_estimate(record)
    for item in found.images if found else ():
        if item.image is img:
            seen = item.seen
            return {
                "estimated_tokens": seen.tokens,
                "seen_width": seen.width,
                "seen_height": seen.height,
                "grid": seen.grid.as_json() if seen.grid else None,
            }
    return {}


def record_fields(record: Record) -> dict:
    """RequestLog fields: the estimate beside the reported usage, and the cost."""
    found = request_estimate(record)
    estimated = found.prompt_tokens if found else None
    if estimated is not None and estimated >= 2**31:  # past the column: unknown, not a failed row
        estimated = None
    out: dict = {"estimated_prompt_tokens": estimated}
    try:
        images_api = record.endpoint.startswith("images.")  # DALL·E's price: its size, quality
        cost = pricing.record_cost(
            record.provider,
            record.model,
            record.endpoint,
            record.usage,
            record.response_body,
            request_body=getattr(record.chat, "body", None) if images_api else None,
        )
    except price_overrides.PricesUnavailable:
        cost = None  # said once per retry by price_overrides
    except Exception:
        log.exception("no cost for log record %s", record.request_id)
        cost = None
    out["cost_usd"] = cost.total if cost else None
    out["cost_breakdown"] = cost.as_json() if cost else None
    if cost and record.cache_status == "HIT":  # answered by Iris's cache: nothing paid upstream
        out["cost_usd"] = Decimal(0)
        out["cost_breakdown"] = {
            **cost.as_json(),
            "total": "0",
            "saved_by_cache": pricing.decimal_str(cost.total),
        }
    return out
