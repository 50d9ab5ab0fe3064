"""The prompt editor's forms: the prompt's route, a version's settings, and its messages as
rows of text and image parts (posted as m-<i>-role, m-<i>-p-<j>-text, m-<i>-p-<j>-url, …)."""

import re

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict

from gateway import prompts
from gateway.images import ImageError
from gateway.models import Prompt

ROLES = ("system", "user", "assistant")
DETAILS = ("", "low", "high", "auto")
RESERVED = prompts.RESERVED_IDS
_FIELD = re.compile(r"m-(\d+)-(role|p-(\d+)-(kind|text|url|detail|file))")
_OWN_PARAMS = ("temperature", "max_tokens")


class PromptForm(forms.ModelForm):
    """The prompt's id (fixed once created), name and route."""

    class Meta:
        model = Prompt
        fields = ["slug", "name", "provider", "model"]
        widgets = {
            "provider": forms.TextInput(attrs={"placeholder": "@openai-prod"}),
            "model": forms.TextInput(attrs={"placeholder": "gpt-4o-mini"}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["slug"].disabled = True

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug in RESERVED and not self.instance.pk:
            raise forms.ValidationError(f"“{slug}” is a page of the editor: choose another id.")
        return slug


class VersionForm(forms.Form):
    """What a new version saves besides its messages."""

    temperature = forms.FloatField(required=False, min_value=0, max_value=2)
    max_tokens = forms.IntegerField(required=False, min_value=1)
    params = forms.JSONField(
        required=False,
        label="other parameters",
        help_text='A JSON object, e.g. {"top_p": 0.9}.',
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    note = forms.CharField(required=False, max_length=300)
    make_default = forms.BooleanField(required=False, initial=True, label="make it the default")

    def clean_params(self) -> dict:
        value = self.cleaned_data["params"] or {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Enter a JSON object.")
        if taken := {"messages", "model", "stream", "variables"} & value.keys():
            raise forms.ValidationError(f"{', '.join(sorted(taken))} cannot be a parameter.")
        return value

    def all_params(self) -> dict:
        data = self.cleaned_data
        own = {name: data[name] for name in _OWN_PARAMS if data.get(name) is not None}
        return {**data["params"], **own}


def version_initial(params: dict, note: str = "") -> dict:
    """The VersionForm's fields for a version's parameters."""
    rest = {k: v for k, v in params.items() if k not in _OWN_PARAMS}
    return {**{k: params.get(k) for k in _OWN_PARAMS}, "params": rest or None, "note": note}


def to_rows(messages: list) -> list[dict]:
    """Messages as editor rows: every content a list of parts, each text or image."""
    rows = []
    for message in messages:
        content = message.get("content")
        parts = [{"kind": "text", "text": content}] if isinstance(content, str) else []
        for part in content if isinstance(content, list) else []:
            if part.get("type") == "image_url":
                spec = part.get("image_url") if isinstance(part.get("image_url"), dict) else {}
                parts.append(
                    {
                        "kind": "image",
                        "url": prompts.image_url(part),
                        "detail": spec.get("detail") or "",
                    }
                )
            else:
                parts.append({"kind": "text", "text": part.get("text", "")})
        rows.append({"role": message.get("role", "user"), "parts": parts})
    return rows


def from_rows(rows: list[dict]) -> list[dict]:
    """Editor rows as chat messages; a lone text part is written as plain string content."""
    messages = []
    for row in rows:
        parts = [_part(p) for p in row["parts"]]
        if len(parts) == 1 and parts[0]["type"] == "text":
            messages.append({"role": row["role"], "content": parts[0]["text"]})
        else:
            messages.append({"role": row["role"], "content": parts})
    return messages


def _part(part: dict) -> dict:
    if part["kind"] == "text":
        return {"type": "text", "text": part.get("text", "")}
    spec = {"url": part.get("url", "").strip()}
    if part.get("detail"):
        spec["detail"] = part["detail"]
    return {"type": "image_url", "image_url": spec}


def rows_from_post(data: QueryDict, files: dict[str, UploadedFile]) -> tuple[list[dict], list]:
    """The editor's rows as posted, an uploaded file stored and referenced; and upload errors."""
    found: dict[int, dict] = {}
    for name, value in list(data.items()) + list(files.items()):
        if not (match := _FIELD.fullmatch(name)):
            continue
        row = found.setdefault(int(match[1]), {"role": "user", "parts": {}})
        if match[2] == "role":
            row["role"] = value if value in ROLES else "user"
            continue
        part = row["parts"].setdefault(int(match[3]), {"kind": "text"})
        part[match[4]] = value
    rows, errors = [], []
    for i in sorted(found):
        parts = [found[i]["parts"][j] for j in sorted(found[i]["parts"])]
        for part in parts:
            if upload := part.pop("file", None):
                part["kind"], part["url"] = "image", _stored(upload, errors) or part.get("url", "")
        rows.append({"role": found[i]["role"], "parts": parts})
    return rows, errors


def _stored(upload: UploadedFile, errors: list) -> str:
    try:
        return prompts.BLOB_REF + prompts.store_image(upload.read()).sha256
    except ImageError as exc:
        errors.append(f"{upload.name}: {exc}")
        return ""


def apply(rows: list[dict], op: str) -> list[dict]:
    """One editing step: add-message, add-text:<i>, add-image:<i>, remove:<i>:<j>, drop:<i>."""
    verb, _, where = op.partition(":")
    at = [int(n) for n in where.split(":") if n.isdigit()]
    if verb == "add-message":
        rows.append({"role": "user", "parts": [{"kind": "text", "text": ""}]})
    elif verb in {"add-text", "add-image"} and at and at[0] < len(rows):
        kind = verb.removeprefix("add-")
        rows[at[0]]["parts"].append({"kind": kind, "text": "", "url": "", "detail": ""})
    elif verb == "remove" and len(at) == 2 and at[0] < len(rows):
        parts = rows[at[0]]["parts"]
        del parts[at[1] : at[1] + 1]
    elif verb == "drop" and at and at[0] < len(rows):
        del rows[at[0]]
    return rows


def samples_from_post(data: QueryDict, names: list[str]) -> dict[str, str]:
    """The sample values typed for each variable (var-<name>); empty ones are left out."""
    return {name: data[f"var-{name}"] for name in names if data.get(f"var-{name}", "").strip()}
