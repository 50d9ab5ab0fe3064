"""Template helpers for costs: the one USD display filter (the list, the analytics page, the
request page), rates, and what a request and its images cost (logs_ui/seen.py builds the
data). Machines get costs as gateway.pricing.decimal_str writes them."""

from decimal import Decimal, InvalidOperation
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
    """$0.000425, $1,234.50; "unknown" for None (never $0 for a price nobody knows)."""
    if value is None:
        return "unknown"
    try:
        text = f"{Decimal(value).quantize(Decimal('1e-8')):,f}".rstrip("0")
    except InvalidOperation:  # too large to show to 8 decimals: no price is, but JSON can be
        return f"${Decimal(value):,f}"
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


@register.filter
def percent(value: float | None) -> str:
    """0.0712 → "7.1 %", 0.00042 → "0.04 %"; "–" for None."""
    if value is None:
        return "–"
    return f"{value * 100:.{2 if value < 0.01 else 1}f} %"


@register.filter
def signed(value: float | None, digits: int = 0) -> str:
    """+25, −3, 0; +2.3 with one digit. "–" for None."""
    if value is None:
        return "–"
    text = f"{abs(value):,.{digits}f}"
    return text if value == 0 else ("+" if value > 0 else "−") + text
