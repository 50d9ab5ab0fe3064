"""The prompt library in the logs UI: list prompts, edit them (each save is a new version),
preview the rendered messages with sample values, run a version, choose the default.

Reading needs the logs UI's access; changing or running a prompt needs staff status or the
gateway.change_prompt permission (a run spends the provider's money).
"""

import orjson
from asgiref.sync import sync_to_async
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from gateway import log as request_log
from gateway import prompts
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.models import Prompt, PromptVersion
from gateway.service import Call, complete
from logs_ui import prompt_forms as pf
from logs_ui.access import viewer_required

EDIT_PERMISSION = "gateway.change_prompt"
_NEW_ROWS = [{"role": "user", "parts": [{"kind": "text", "text": ""}]}]
# The sample values typed before a save, kept in the session for the editor the save
# redirects to (its "Run" posts them); capped, as data URIs can be big.
_SAMPLES = "iris:prompt-samples:{}"
_SAMPLES_MAX = 2_000_000  # characters


def can_edit(user) -> bool:
    return bool(user.is_staff or user.has_perm(EDIT_PERMISSION))


def _require_edit(request: HttpRequest) -> None:
    if not can_edit(request.user):
        raise PermissionDenied("You need staff status or the “change prompt” permission.")


@require_GET
@viewer_required
def prompt_list(request: HttpRequest) -> HttpResponse:
    """Every prompt, with its default version and how many versions it has."""
    rows = Prompt.objects.select_related("default_version").annotate(count=Count("versions"))
    context = {"prompts": rows, "can_edit": can_edit(request.user)}
    return render(request, "logs_ui/prompt_list.html", context)


@viewer_required
def prompt_new(request: HttpRequest) -> HttpResponse:
    """A new prompt; saving it saves its version 1."""
    return _edit(request, Prompt(), None)


@viewer_required
def prompt_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """The editor, filled with the default version (or ?version=N); saving adds a version."""
    prompt = get_object_or_404(Prompt.objects.select_related("default_version"), slug=slug)
    number = request.GET.get("version", "")
    versions = prompt.versions.all()
    shown = versions.filter(number=number).first() if number.isdigit() else None
    return _edit(request, prompt, shown or prompt.default_version or versions.first())


def _edit(request: HttpRequest, prompt: Prompt, version: PromptVersion | None) -> HttpResponse:
    posted = request.method == "POST"
    form = pf.PromptForm(request.POST if posted else None, instance=prompt)
    initial = pf.version_initial(version.params, "") if version else {}
    version_form = pf.VersionForm(request.POST if posted else None, initial=initial)
    if posted:
        _require_edit(request)
        rows, errors = pf.rows_from_post(request.POST, request.FILES)
        saved = _save(request, form, version_form, rows, errors)
        if saved is not None:
            _keep_samples(request, saved.slug)
            return redirect("logs_ui:prompt", saved.slug)
    else:
        rows, errors = (pf.to_rows(version.messages) if version else _NEW_ROWS), []
    kept = request.session.get(_SAMPLES.format(prompt.slug), {}) if prompt.pk else {}
    context = _context(request, rows, errors, kept) | {"form": form, "version_form": version_form}
    context |= {"prompt": prompt if prompt.pk else None, "version": version}
    return render(request, "logs_ui/prompt_edit.html", context)


def _save(request, form, version_form, rows: list, errors: list) -> Prompt | None:
    """Save the prompt and a new version of it, or add to errors why not."""
    messages = pf.from_rows(rows)
    try:
        prompts.check_messages(messages)
    except prompts.TemplateError as exc:
        errors.append(str(exc))
    if not (form.is_valid() and version_form.is_valid()) or errors:
        return None
    with transaction.atomic():
        prompt = form.save()
        prompts.save_version(
            prompt,
            messages=messages,
            params=version_form.all_params(),
            note=version_form.cleaned_data["note"],
            created_by=request.user.get_username(),
            make_default=version_form.cleaned_data["make_default"] or not prompt.default_version,
        )
    return prompt


def _keep_samples(request: HttpRequest, slug: str) -> None:
    samples = {k: v for k, v in request.POST.items() if k.startswith("var-") and v.strip()}
    if sum(len(v) for v in samples.values()) <= _SAMPLES_MAX:
        request.session[_SAMPLES.format(slug)] = samples


def _context(request: HttpRequest, rows: list, errors: list, kept: dict | None = None) -> dict:
    """What the editor partial shows: the rows, the variables they use, their sample values
    (posted, or `kept` from before the save that led here)."""
    try:
        names = prompts.variable_names(pf.from_rows(rows))
    except prompts.TemplateError as exc:
        names, errors = [], [*errors, str(exc)]
    samples = pf.samples_from_post(request.POST if request.method == "POST" else kept or {}, names)
    variables = [(name, samples.get(name, "")) for name in names]
    return {"rows": rows, "errors": errors, "variables": variables, "samples": samples} | {
        "roles": pf.ROLES,
        "details": pf.DETAILS[1:],
    }


@require_POST
@viewer_required
def prompt_editor(request: HttpRequest) -> HttpResponse:
    """One editing step (add or remove a part, upload an image) on the posted draft (htmx)."""
    _require_edit(request)
    rows, errors = pf.rows_from_post(request.POST, request.FILES)
    rows = pf.apply(rows, request.POST.get("op", ""))
    return render(request, "logs_ui/prompt_edit.html#editor", _context(request, rows, errors))


@require_POST
@viewer_required
def prompt_preview(request: HttpRequest) -> HttpResponse:
    """The draft's messages rendered with the sample values, images shown (htmx)."""
    rows, errors = pf.rows_from_post(request.POST, {})
    context = _context(request, rows, errors)
    messages, problem = pf.from_rows(rows), ""
    try:
        prompts.check_messages(messages)
        # Fixed images are shown from the logs UI's image view, not inlined as data URIs.
        blobs = {sha: reverse("logs_ui:image", args=[sha]) for sha in prompts.blob_refs(messages)}
        rendered = prompts.render_messages(messages, context["samples"], blobs)
    except (prompts.TemplateError, GatewayError) as exc:
        rendered, problem = [], getattr(exc, "message", str(exc))
    context |= {"preview": pf.to_rows(rendered), "problem": problem}
    return render(request, "logs_ui/prompt_edit.html#preview", context)


@require_POST
@viewer_required
async def prompt_run(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """Run a saved version with the sample values, through the proxy like an API call (htmx)."""
    if not await sync_to_async(can_edit)(await request.auser()):
        raise PermissionDenied("You need staff status or the “change prompt” permission.")
    try:
        version = await orm(prompts.load_version)(f"{slug}@{number}")
    except GatewayError as error:
        return render(request, "logs_ui/prompt_edit.html#run", {"result": error.body()})
    samples = pf.samples_from_post(request.POST, prompts.variable_names(version.messages))

    async def rendered_body(record: request_log.Record) -> bytes:
        rendered = await orm(prompts.render)(f"{slug}@{number}", {"variables": samples})
        record.prompt, record.prompt_version = rendered.prompt, rendered.version
        record.prompt_variables = rendered.variables
        return orjson.dumps(rendered.body)

    # No request headers in the log: the browser's carry the session cookie and CSRF token.
    record = request_log.Record(path=request.path, request_headers={})
    call = Call(request.path, {}, rendered_body, authenticate=False, record=record)
    response = await complete(call)
    result = orjson.loads(response.content)
    context = {"result": result, "reply": _reply(result), "slug": slug, "number": number}
    return render(request, "logs_ui/prompt_edit.html#run", context)


def _reply(result: dict) -> str:
    try:
        return result["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        return ""


@require_POST
@viewer_required
def prompt_default(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """Make a version the one apps get when they pin none."""
    _require_edit(request)
    prompt = get_object_or_404(Prompt, slug=slug)
    prompt.default_version = get_object_or_404(prompt.versions, number=number)
    prompt.save(update_fields=["default_version", "updated_at"])
    return redirect(f"{reverse('logs_ui:prompt', args=[slug])}?version={number}")
