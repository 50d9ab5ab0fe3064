"""The logs UI's replay: a form on the request page (htmx), the run, and the comparison of
the two answers (a page of its own, polled until the log writer has written the replay).

Reading needs the logs UI's access; running a replay spends the provider's money, so it needs
staff status or the replays.add_replay permission, as a prompt run needs its own."""

import json

from asgiref.sync import sync_to_async
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from gateway.db import orm
from gateway.errors import GatewayError
from gateway.models import Provider, RequestLog
from logs_ui.access import viewer_required
from replays import body as replay_body
from replays import core
from replays.forms import ReplayForm, overrides
from replays.models import Replay
from replays.sides import comparison, replays_of

PERMISSION = "replays.add_replay"
_POLLS = 60  # the compare page asks this many times (every 0.5 s) for the replay's record


def can_replay(user) -> bool:
    return bool(user.is_active and (user.is_staff or user.has_perm(PERMISSION)))


def _slugs() -> list[Provider]:
    return list(Provider.objects.filter(enabled=True).order_by("slug"))


def _stored(log: RequestLog) -> tuple[dict | None, str]:
    """(the body a replay starts from, or None) and why not."""
    try:
        return replay_body.stored_body(log), ""
    except GatewayError as error:
        return None, error.message


def _form_context(log: RequestLog, form: ReplayForm, problem: str = "") -> dict:
    return {"log": log, "form": form, "problem": problem}


@require_GET
@viewer_required
def replay_form(request: HttpRequest, log_id: int) -> HttpResponse:
    """The form, filled with the record's provider and body (htmx, into the request page)."""
    log = get_object_or_404(RequestLog, pk=log_id)
    if not can_replay(request.user):
        raise PermissionDenied("You need staff status or the “add replay” permission.")
    stored, problem = _stored(log)
    editable = {k: v for k, v in (stored or {}).items() if k != "model"}
    initial = {
        "provider": f"@{log.provider_slug}" if log.provider_slug else log.provider,
        "body": json.dumps(editable, indent=2, ensure_ascii=False),
    }
    form = ReplayForm(initial=initial, slugs=_slugs())
    context = _form_context(log, form, problem) | {"disabled": stored is None}
    return render(request, "logs_ui/replay.html#form", context)


@require_POST
@viewer_required
async def replay_run(request: HttpRequest, log_id: int) -> HttpResponse:
    """Run the replay, then show the comparison in place of the form (htmx)."""
    user = await request.auser()
    if not await sync_to_async(can_replay)(user):
        raise PermissionDenied("You need staff status or the “add replay” permission.")
    log = await RequestLog.objects.filter(pk=log_id).afirst()
    if log is None:
        raise Http404("No such request.")
    form = ReplayForm(request.POST, slugs=await orm(_slugs)())
    if not await sync_to_async(form.is_valid)():
        return await _render(request, "logs_ui/replay.html#form", _form_context(log, form))
    stored, problem = await orm(_stored)(log)
    if stored is None:
        return await _render(request, "logs_ui/replay.html#form", _form_context(log, form, problem))
    key = form.cleaned_data["provider_key"]
    try:
        done = await core.replay(
            log,
            provider=form.cleaned_data["provider"],
            model=form.model_to_send(),
            overrides=overrides(stored, form.cleaned_data["body"]),
            headers={"authorization": f"Bearer {key}"} if key else None,
            user=user.get_username(),
        )
    except GatewayError as error:
        return await _render(
            request, "logs_ui/replay.html#form", _form_context(log, form, error.message)
        )
    url = reverse("logs_ui:replay-compare", args=[log.pk, done.request_id])
    context = await orm(comparison)(log, done.request_id, done)
    response = await _render(request, "logs_ui/replay.html#compare", context | {"polls": 0})
    response["HX-Push-Url"] = url
    return response


async def _render(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    """render() in a thread: context processors and templates may touch the database."""
    return await sync_to_async(render)(request, template, context)


@require_GET
@viewer_required
def replay_compare(request: HttpRequest, log_id: int, request_id: str) -> HttpResponse:
    """The two answers side by side: a page, or its comparison alone while it polls (htmx)."""
    link = get_object_or_404(
        Replay.objects.select_related("original"), original_id=log_id, request_id=request_id
    )
    context = comparison(link.original, request_id, None)
    polls = request.GET.get("poll", "0")
    context["polls"] = min(int(polls), _POLLS) if polls.isdigit() else _POLLS
    if request.htmx and polls:
        return render(request, "logs_ui/replay.html#compare", context)
    return render(request, "logs_ui/replay_compare.html", context)


@require_GET
@viewer_required
def replay_list(request: HttpRequest, log_id: int) -> HttpResponse:
    """The replays of a record, loaded once the request page is shown (htmx)."""
    log = get_object_or_404(RequestLog, pk=log_id)
    return render(request, "logs_ui/replay.html#list", {"log": log} | replays_of(log))
