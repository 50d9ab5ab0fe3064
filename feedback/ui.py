"""The request page's feedback widget: POST /logs/<id>/feedback/ saves the signed-in user's
thumbs, labels and comment on that record (htmx swaps the widget; without JavaScript the
form posts and the page reloads).

The UI's feedback names the record by its request_id, so it is about this request alone
(feedback sent to the API with a shared trace id covers every request of that trace). One
UI feedback per user per record: saving again edits it; clicking the pressed thumb again
takes it back, and a feedback left with no thumb, label or comment is deleted."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from feedback import validate
from feedback.models import Feedback
from gateway.models import RequestLog
from logs_ui.access import viewer_required

THUMBS = {"1": 1, "-1": -1}  # thumbs up = 1, down = −1, as Portkey's docs suggest


@require_POST
@viewer_required
def save(request: HttpRequest, log_id: int) -> HttpResponse:
    log = get_object_or_404(RequestLog.objects.only("id", "request_id", "trace_id"), pk=log_id)
    user = request.user.get_username()
    mine = Feedback.objects.filter(trace_id=log.request_id, source="ui", user_name=user).first()
    error = ""
    try:
        _apply(request.POST, log, mine, user)
    except validate.Invalid as exc:
        error = exc.message
    if not request.htmx:
        return redirect(reverse("logs_ui:detail", args=[log.id]) + "#feedback")
    return _body(request, log, error)


@require_GET
@viewer_required
def widget(request: HttpRequest, log_id: int) -> HttpResponse:
    """The widget, loaded by the request page once it is shown (htmx)."""
    log = get_object_or_404(RequestLog.objects.only("id", "request_id", "trace_id"), pk=log_id)
    return _body(request, log)


def _body(request: HttpRequest, log: RequestLog, error: str = "") -> HttpResponse:
    context = {"log": log, "feedback_error": error}
    return HttpResponse(render_to_string("logs_ui/feedback.html#body", context, request=request))


def _apply(form, log: RequestLog, mine: Feedback | None, user: str) -> None:
    current = mine.value if mine else 0
    value = THUMBS.get(form.get("value", ""), current)
    if form.get("value") and value == current:  # the pressed thumb again: taken back
        value = 0
    remove = form.get("remove", "")
    wanted = [name for name in form.getlist("labels") if name != remove]
    wanted += form.get("add_label", "").split(",")
    labels = validate.labels(wanted)
    comment = validate.comment(form.get("comment", mine.comment if mine else ""))
    if not value and not labels and not comment:
        if mine:
            mine.delete()
        return
    fb = mine or Feedback(trace_id=log.request_id, source="ui", user_name=user)
    fb.value, fb.labels, fb.comment = value, labels, comment
    fb.save()
