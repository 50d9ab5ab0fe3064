"""{% replay_of log as of %}: the Replay that made a record; {% may_replay user as ok %}:
whether the user may run one; |as_json."""

import json

from django import template

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
