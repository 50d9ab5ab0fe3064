"""Template helpers of the logs UI: durations, status tones, query strings, the JSON viewer."""

import json
import re
from typing import Any

from django import template
from django.template import Context
from django.template.defaultfilters import filesizeformat
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from gateway import prompts
from gateway.models import RequestLog
from logs_ui.forms import clean_query

register = template.Library()

_DATA_URI = re.compile(r"^data:[\w.+-]*/?[\w.+-]*(;[\w.+-]+=[^;,]*)*;base64,")
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\r\n]+$")
_LONG = 300  # characters of base64 shown before "… [size]"
_MAX_DEPTH = 40
_OPEN_DEPTH = 7


@register.filter
def ms(value: float | None) -> str:
    """93.2 → "93 ms", 1530 → "1.53 s", None → "–"."""
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"


@register.filter
def thousands(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


@register.filter
def tone(log: RequestLog) -> str:
    """The colour of a request's status: ok, warn (4xx, or an error after a 200), bad, none."""
    code = log.status_code
    if not code:
        return "none"
    if code >= 500:
        return "bad"
    if code >= 400 or log.error_type:
        return "warn"
    return "ok"


@register.simple_tag(takes_context=True)
def with_param(context: Context, name: str, *parts: str) -> str:
    """The current filters plus one more value of a list parameter ("k", "v" → k=v)."""
    value = "=".join(str(p) for p in parts)
    params = clean_query(context["request"].GET)
    if value not in params.getlist(name):
        params.appendlist(name, value)
    return "?" + params.urlencode()


@register.simple_tag(takes_context=True)
def filter_query(context: Context, **changes: str) -> str:
    """The current filters with some changed, back on the first page (for filter links)."""
    params = clean_query(context["request"].GET)
    for name, value in changes.items():
        params[name] = value
    return "?" + params.urlencode()


@register.filter
def pairs(value: Any) -> list:
    """A dict's (key, value) pairs: `d.items` in a template would pick a key named "items"."""
    return list(value.items()) if isinstance(value, dict) else []


@register.filter
def blob_sha(url: Any) -> str:
    """The SHA-256 of an `iris-blob:<sha256>` image URL; "" for any other (or a malformed) one."""
    return prompts.blob_sha(url) if isinstance(url, str) else ""


@register.filter
def short_b64(value: str) -> str:
    """A data URI or a long base64 string cut to its start, with the size it stands for."""
    if not isinstance(value, str) or len(value) <= _LONG:
        return value
    match = _DATA_URI.match(value)
    if match is None and not _BASE64.match(value):
        return value
    start = match.end() if match else 0
    size = (len(value) - start) * 3 // 4
    return f"{value[: start + 48]}… [{filesizeformat(size)} base64, {size:,} bytes]"


@register.filter
def json_tree(value: Any) -> SafeString:
    """Pretty, collapsible JSON as HTML; every key and value escaped, long base64 shortened."""
    return mark_safe(f'<div class="jt">{_row(value, 0, key="", comma="")}</div>')  # noqa: S308


def _row(value: Any, depth: int, *, key: str, comma: str) -> str:
    """One line of the tree (or a foldable group): key, value, trailing comma; all escaped."""
    label = (
        f'<span class="jt-k">{escape(json.dumps(key, ensure_ascii=False))}</span>: ' if key else ""
    )
    if isinstance(value, dict | list) and value and depth < _MAX_DEPTH:
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
        children = "".join(
            _row(
                v,
                depth + 1,
                key=str(k) if isinstance(value, dict) else "",
                comma="," if n < len(items) - 1 else "",
            )
            for n, (k, v) in enumerate(items)
        )
        count = f"{len(items)} {'keys' if isinstance(value, dict) else 'items'}"
        # Deep levels start folded: a response's nested details rarely matter first.
        state = " open" if depth < _OPEN_DEPTH else ""
        return (
            f'<details class="jt-g"{state}><summary data-close="{closing}{comma}">{label}'
            f'{opening}<span class="jt-c">{count}</span></summary>'
            f'<div class="jt-in">{children}</div><div>{closing}{comma}</div></details>'
        )
    return f'<div class="jt-r">{label}{_scalar(value)}{comma}</div>'


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        text = json.dumps(short_b64(value), ensure_ascii=False)
        return f'<span class="jt-s">{escape(text)}</span>'
    if isinstance(value, bool) or value is None:
        return f'<span class="jt-l">{json.dumps(value)}</span>'
    if isinstance(value, int | float):
        return f'<span class="jt-n">{escape(json.dumps(value))}</span>'
    return f'<span class="jt-s">{escape(json.dumps(value, default=str, ensure_ascii=False))}</span>'
