"""The live tail's poll URL: the list's filters plus what the tail has shown (tailstate.py)."""

import time

from django import template
from django.urls import reverse

from logs_ui.tailstate import first_state

register = template.Library()
_STATE_PARAMS = ("before", "after", "floor", "shown", "mark", "mark_at")


@register.simple_tag(takes_context=True)
def tail_url(context) -> str:
    """From the tail view's `tail` state, else from the list page's `newest` and `rows`."""
    state = context.get("tail") or first_state(
        context.get("newest") or 0, list(context.get("rows") or ()), time.time()
    )
    params = context["request"].GET.copy()
    for name in _STATE_PARAMS:
        params.pop(name, None)
    params.update(state.query())
    return f"{reverse('logs_ui:tail')}?{params.urlencode()}"
