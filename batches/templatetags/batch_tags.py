"""Template tags of the bulk replay pages."""

from django import template

from replays.views import can_replay

register = template.Library()


@register.simple_tag
def may_bulk_replay(user) -> bool:
    """Whether the user may start, resume or stop a batch (what one replay needs)."""
    return can_replay(user)
