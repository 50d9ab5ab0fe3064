"""Template helpers for what a request and its images cost (logs_ui/seen.py builds the data)."""

from decimal import Decimal
from typing import Any

from django import template

from gateway.models import RequestLog
from logs_ui import seen

register = template.Library()


@register.simple_tag
def image_seen(view: Any, log: RequestLog) -> seen.SeenImage | None:
    """An image card's "as the model saw it" data ({% image_seen iv log as s %})."""
    image = getattr(view, "image", None)
    if image is None:
        return None
    drawable = not getattr(view, "problem", "")
    return seen.image_seen(image, log, getattr(view, "in_chat", True), drawable)


@register.simple_tag
def record_economics(log: RequestLog) -> seen.Economics:
    return seen.economics(log)


@register.filter
def usd(value: Decimal | None) -> str:
    return seen.usd(value)


@register.filter
def signed(value: float | None, digits: int = 0) -> str:
    """+25, −3, 0; +2.3 with one digit. "–" for None."""
    if value is None:
        return "–"
    text = f"{abs(value):,.{digits}f}"
    return text if value == 0 else ("+" if value > 0 else "−") + text
