"""Template tags for grounding overlays (logs_ui/grounding.py finds the coordinates,
logs_ui/grounding_page.py lays them out).

Any page showing a record can use them:
    {% load grounding_tags %}
    {% grounding_for log as g %}            the record's Grounding (falsy when no coordinates)
    {% grounding_overlay log iv as o %}     the layers drawn over one image card (or None)
or simply include templates/logs_ui/grounding.html's partials: `panel` (context: log) and
`overlay` (context: log, iv). Computed once per record and page (kept on the log object);
a record whose answer holds no coordinates costs no query.
"""

from typing import Any

from django import template

from gateway.images import PDF_MIME
from gateway.models import RequestLog
from logs_ui.conversation import CONVERSATIONS
from logs_ui.grounding import ImageRef
from logs_ui.grounding_page import Grounding, Overlay, ground
from logs_ui.imageview import ImageView

register = template.Library()
_CACHE = "_iris_grounding"


@register.simple_tag
def grounding_for(log: RequestLog | None) -> Grounding:
    if log is None:
        return Grounding()
    cached = log.__dict__.get(_CACHE)
    if cached is None:
        cached = ground(log.response_body, log.request_body, lambda: input_images(log), log.model)
        log.__dict__[_CACHE] = cached
    return cached


@register.simple_tag
def grounding_overlay(log: RequestLog | None, view: Any) -> Overlay | None:
    image = getattr(view, "image", None)
    if image is None or getattr(image, "role", "") != "input":
        return None
    return grounding_for(log).overlays.get(image.id)


def input_images(log: RequestLog) -> list[ImageRef]:
    """The request's input images in order, each with its upright size as the page shows it
    (None where no thumbnail is drawn) and the size the model saw it at, when known."""
    out = []
    in_chat = log.endpoint in CONVERSATIONS
    rows = log.images.filter(role="input").select_related("blob")
    for image in rows.order_by("message_index", "part_index", "id"):
        view = ImageView(image, in_chat=in_chat)
        if view.blob is not None and view.blob.mime == PDF_MIME:
            continue
        width, height = (None, None) if view.problem or view.svg else view.upright
        seen = None
        if image.seen_width and image.seen_height:
            seen = (image.seen_width, image.seen_height)
        out.append(ImageRef(image.id, view.label, width, height, seen))
    return out
