"""{% replay_of log as of %}: the Replay that made a record; {% may_replay user as ok %}:
whether the user may run one; |as_json."""

import json

from django import template

from gateway.models import LogImage
from logs_ui.conversation import CONVERSATIONS
from logs_ui.imageview import ImageView
from logs_ui.templatetags.grounding_tags import grounding_for
from replays import sides, views

register = template.Library()


@register.simple_tag
def replay_of(log):
    return sides.replay_of(log)


@register.simple_tag
def may_replay(user) -> bool:
    return views.can_replay(user)


@register.filter
def as_json(value) -> str:
    """A value as indented JSON text (escaped by the template like any text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@register.simple_tag
def grounded_image(log) -> ImageView | None:
    """The image a record's coordinates are drawn over (logs_ui/grounding_page.py's choice),
    for a comparison to draw each side's boxes on: None when the answer has none."""
    found = grounding_for(log)
    if not found or found.chosen is None:
        return None
    image = LogImage.objects.select_related("blob").filter(pk=found.chosen.key).first()
    return ImageView(image, in_chat=log.endpoint in CONVERSATIONS) if image else None
