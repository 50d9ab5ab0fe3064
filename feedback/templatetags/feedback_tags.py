"""{% feedback_widget log as fb %}: what the request page's feedback widget shows."""

import json

from django import template
from django.db.models import Count

from feedback import query
from feedback.models import FeedbackLabel

register = template.Library()

SUGGESTED = 50  # the most used labels, offered as the label box's suggestions


@register.simple_tag(takes_context=True)
def feedback_widget(context: template.Context, log) -> dict:
    """Every feedback on the record (API and UI, oldest first), the signed-in user's own UI
    feedback (the one the form edits), the score and the label suggestions."""
    request = context.get("request")
    user = request.user.get_username() if request is not None else ""
    entries = list(query.for_log(log))
    mine = next((fb for fb in entries if fb.source == "ui" and fb.user_name == user), None)
    names = (
        FeedbackLabel.objects.values("name")
        .annotate(n=Count("id"))
        .order_by("-n", "name")
        .values_list("name", flat=True)[:SUGGESTED]
    )
    return {
        "entries": entries,
        "mine": mine,
        "score": query.score(entries),
        "suggestions": [n for n in names if not mine or n not in mine.labels],
    }


@register.filter
def signed(value: int) -> str:
    """+1, −3, 0: a feedback value as people read it."""
    return f"+{value}" if value > 0 else (f"−{-value}" if value < 0 else "0")


@register.filter
def compact_json(value: object) -> str:
    """Metadata as one line of JSON (the template escapes it: client data, never markup)."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))[:2000]
