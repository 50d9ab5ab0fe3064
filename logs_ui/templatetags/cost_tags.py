"""Costs and rates in the logs list and the analytics page."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def usd(value: Decimal | None) -> str:
    """$0.000425, $1,234.50; "unknown" for None (never $0 for a price nobody knows)."""
    if value is None:
        return "unknown"
    text = f"{Decimal(value).quantize(Decimal('1e-8')):,f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


@register.filter
def percent(value: float | None) -> str:
    """0.0712 → "7.1 %", 0.00042 → "0.04 %"; "–" for None."""
    if value is None:
        return "–"
    return f"{value * 100:.{2 if value < 0.01 else 1}f} %"
