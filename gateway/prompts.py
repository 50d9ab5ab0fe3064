"""Prompt templates: Mustache variables in message texts and image URLs, rendered safely.

Rendering walks the messages and renders each template string on its own (never the JSON
text as a whole, so a value cannot break out of its string). HTML escaping is off: this is
no HTML. chevron renders a missing variable as "", so every name is checked before rendering.
A fixed image saved in the template is written `iris-blob:<sha256>` (as in the request log)
and becomes a data URI at render time, which every provider accepts.

The top half is pure (but for check_messages, which checks that fixed images are stored); the
bottom half loads and saves versions and blobs through Django.
"""

import base64
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import chevron
import orjson
from chevron.tokenizer import tokenize
from django.core.files.storage import default_storage
from django.db import transaction

from gateway.errors import GatewayError
from gateway.images import Image, ImageError, decode_data_uri
from gateway.models import Blob, Prompt, PromptVersion

BLOB_REF = "iris-blob:"
# Prompt ids the editor's own pages use under /logs/prompts/: no prompt may take one.
RESERVED_IDS = frozenset({"new", "editor", "preview"})
_BLOB = re.compile(r"iris-blob:([0-9a-f]{64})")
_REF = re.compile(r"(?P<slug>[a-z0-9][a-z0-9_-]{0,63})(?:@(?P<version>[^@/]*))?")
_NAME = re.compile(r"[A-Za-z_][\w.-]{0,99}")
# Keys of a prompt request that are not model parameters.
_NOT_PARAMS = {"variables", "messages", "stream"}
_SCALARS = (str, int, float)  # and bool, an int


class TemplateError(ValueError):
    """A template the editor must refuse; the message says where and why."""


@dataclass
class Rendered:
    """A prompt version rendered for one call: the chat body, and what the log keeps."""

    prompt: str
    version: int
    body: dict
    variables: dict


def parse_ref(ref: str) -> tuple[str, int | None]:
    """ "slug", "slug@3" or "slug@latest" → (slug, version number or None for the default;
    -1 for the latest); 404 for anything else."""
    match = _REF.fullmatch(ref)
    version = match["version"] if match else None
    if not match or (version is not None and version != "latest" and not version.isdigit()):
        raise GatewayError(404, f"No prompt {ref[:100]!r}.", code="prompt_not_found")
    if version is None:
        return match["slug"], None
    return match["slug"], -1 if version == "latest" else int(version)


def tokens(text: str, where: str) -> list[tuple[str, str]]:
    """The Mustache tokens of one string, `{{x}}` made unescaped; TemplateError if invalid."""
    try:
        found = list(tokenize(text))
    except chevron.ChevronError as exc:
        message = f"{where}: invalid Mustache template ({exc}).".replace("\n", " ")
        raise TemplateError(message) from None
    for tag, key in found:
        if tag == "partial":
            raise TemplateError(f"{where}: partials ({{{{> {key}}}}}) are not supported.")
        named = tag in {"variable", "no escape", "section", "inverted section"}
        if named and key != "." and not _NAME.fullmatch(key):
            raise TemplateError(f"{where}: {key!r} is not a variable name.")
    return [("no escape", key) if tag == "variable" else (tag, key) for tag, key in found]


def required(found: list[tuple[str, str]]) -> list[str]:
    """Names a call must give: `{{x}}` outside sections (inside one, a name may come from the
    section's own value; a section's key is optional: that is what sections are for)."""
    names, depth = [], 0
    for tag, key in found:
        if tag in {"section", "inverted section"}:
            depth += 1
        elif tag == "end":
            depth -= 1
        elif tag == "no escape" and depth == 0 and key != "." and key.split(".")[0] not in names:
            names.append(key.split(".")[0])
    return names


def strings(messages: list) -> Iterator[tuple[str, str, str]]:
    """Each template string: (where, kind "text" | "image", text)."""
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            yield f"messages[{i}].content", "text", content
            continue
        for j, part in enumerate(content if isinstance(content, list) else []):
            where = f"messages[{i}].content[{j}]"
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                yield f"{where}.text", "text", part["text"]
            elif part.get("type") == "image_url":
                yield f"{where}.image_url.url", "image", image_url(part)


def image_url(part: dict) -> str:
    spec = part.get("image_url")
    url = spec.get("url") if isinstance(spec, dict) else spec
    return url if isinstance(url, str) else ""


def check_messages(messages: object) -> None:
    """TemplateError unless these are chat messages whose every template string is valid."""
    if not isinstance(messages, list) or not messages:
        raise TemplateError("A prompt needs at least one message.")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise TemplateError(f"messages[{i}] must be an object with a role.")
        content = message.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                if not isinstance(part, dict) or part.get("type") not in {"text", "image_url"}:
                    raise TemplateError(f"messages[{i}].content[{j}] must be text or image_url.")
        elif not isinstance(content, str):
            raise TemplateError(f"messages[{i}].content must be a string or a list of parts.")
    for where, kind, text in strings(messages):
        if kind == "image" and not text:
            raise TemplateError(
                f"{where} is empty: paste a URL, upload a file or use {{{{name}}}}."
            )
        if kind == "image" and text.startswith(BLOB_REF) and not blob_sha(text):
            raise TemplateError(
                f"{where}: {text[:80]!r} is no stored image (iris-blob: and a lowercase SHA-256)."
            )
        tokens(text, where)
    # The one database read of this half: a fixed image must be stored, or every call fails.
    refs = blob_refs(messages)
    stored = Blob.objects.filter(sha256__in=refs).values_list("pk", flat=True) if refs else []
    if missing := refs - set(stored):
        raise TemplateError(f"The image iris-blob:{min(missing)} is not stored in Iris.")


def variable_names(messages: list) -> list[str]:
    """Every variable a template mentions, in order (the editor asks for sample values)."""
    names: list[str] = []
    for where, _, text in strings(messages):
        for tag, key in tokens(text, where):
            name = key.split(".")[0]
            if tag in {"no escape", "section", "inverted section"} and key != ".":
                names += [] if name in names else [name]
    return names


def blob_sha(url: str) -> str:
    """The sha256 of a well-formed `iris-blob:<sha256>` reference, else ""."""
    match = _BLOB.fullmatch(url)
    return match[1] if match else ""


def blob_refs(messages: list) -> set[str]:
    """The sha256 of each fixed image stored in the template."""
    return {
        sha for _, kind, text in strings(messages) if kind == "image" and (sha := blob_sha(text))
    }


def render_messages(messages: list, variables: Mapping, blobs: Mapping[str, str]) -> list:
    """The messages with every variable filled in and fixed images as data URIs; 400 naming
    each missing variable, a value of the wrong type, or an image variable that is no image."""
    if not isinstance(variables, Mapping):
        raise GatewayError(
            400, "variables must be a JSON object.", code="invalid_variables", param="variables"
        )
    parsed = {where: tokens(text, where) for where, _, text in strings(messages)}
    missing = [n for found in parsed.values() for n in required(found) if n not in variables]
    if missing:
        names = ", ".join(dict.fromkeys(missing))
        raise GatewayError(
            400,
            f"Missing prompt variable(s): {names}.",
            code="missing_variable",
            param=f"variables.{missing[0]}",
        )
    for name in {n for found in parsed.values() for n in required(found)}:
        if not isinstance(variables[name], _SCALARS):
            raise GatewayError(
                400,
                f"Prompt variable {name!r} must be a string, number or boolean: the template "
                f"shows it as {{{{{name}}}}}.",
                code="invalid_variable",
                param=f"variables.{name}",
            )
    data = {name: _Bool(v) if isinstance(v, bool) else v for name, v in variables.items()}
    out = orjson.loads(orjson.dumps(messages))  # a deep copy: versions are never changed
    for (where, kind, text), target in zip(strings(messages), _slots(out), strict=True):
        holder, key = target
        found = parsed[where]
        if kind == "image" and (blob := _BLOB.fullmatch(text)):
            holder[key] = blobs[blob[1]]
            continue
        value = chevron.render(found, data, partials_path=None)
        if kind == "image" and any(tag != "literal" for tag, _ in found):
            _check_image_value(value, where, found)  # a fixed URL is parse_chat's to check
        holder[key] = value
    return out


class _Bool:
    """A JSON boolean for chevron: false still hides a section, but shows as "false" (JSON's
    spelling), where chevron would print Python's "False" or nothing."""

    _CHEVRON_return_scope_when_falsy = True  # chevron's hook for falsy values it should keep

    def __init__(self, value: bool) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return self.value

    def __str__(self) -> str:
        return "true" if self.value else "false"


def _check_image_value(value: str, where: str, found: list[tuple[str, str]]) -> None:
    """An image variable must give an http(s) URL or a data URI (as parse_chat accepts): not a
    blob reference, which would let a caller send any image stored in Iris."""
    if value.startswith(("https://", "http://", "data:")):
        return
    names = ", ".join(dict.fromkeys(k for tag, k in found if tag == "no escape"))
    raise GatewayError(
        400,
        f"Prompt variable {names or '?'} ({where}) must be an http(s) URL or "
        "a data:image/…;base64 URI.",
        code="invalid_variable",
        param=f"variables.{names.split(', ')[0]}",
    )


def _slots(messages: list) -> Iterator[tuple[dict, str]]:
    """Where each template string of strings() lives, to write its rendered value back."""
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            yield message, "content"
            continue
        for part in content if isinstance(content, list) else []:
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                yield part, "text"
            elif part.get("type") == "image_url":
                spec = part["image_url"] = (
                    dict(part["image_url"])
                    if isinstance(part.get("image_url"), dict)
                    else {"url": part.get("image_url")}
                )
                yield spec, "url"


def chat_body(version: PromptVersion, messages: list, request: Mapping) -> dict:
    """The chat request: the version's route and parameters, then the caller's overrides. The
    model is written `@provider/model`, so the normal routing sends it to the prompt's provider
    (an overriding "model" names another model of that provider)."""
    if "messages" in request:
        raise GatewayError(
            400,
            "messages come from the prompt; send variables instead.",
            code="invalid_request",
            param="messages",
        )
    overrides = {k: v for k, v in request.items() if k not in _NOT_PARAMS}
    name = overrides.pop("model", None) or version.model
    if not isinstance(name, str):
        raise GatewayError(400, "model must be a string.", code="invalid_request", param="model")
    model = f"{version.provider}/{name}" if name else version.provider
    stream = request.get("stream")
    if stream is not None and not isinstance(stream, bool):  # null: unset, as in OpenAI's API
        raise GatewayError(
            400, "stream must be true or false.", code="invalid_request", param="stream"
        )
    body = {"model": model, **(version.params or {}), **overrides, "messages": messages}
    if stream:
        body["stream"] = True
    return body


def logged_variables(variables: Mapping) -> dict:
    """The variables as the log keeps them: a data URI becomes a reference to its blob (the
    log stores the image itself once, as a blob), not megabytes of base64 in every row."""
    out = {}
    for name, value in variables.items():
        if isinstance(value, str) and value.startswith("data:"):
            try:
                value = BLOB_REF + hashlib.sha256(decode_data_uri(value)[1]).hexdigest()
            except ImageError:
                value = value[:100] + "…"
        out[str(name)] = value
    return out


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime or 'application/octet-stream'};base64,{base64.b64encode(data).decode()}"


# --- through Django ---------------------------------------------------------------------


def load_version(ref: str) -> PromptVersion:
    """The version a reference names: the default, `@N`, or `@latest`; 404 otherwise."""
    slug, number = parse_ref(ref)
    prompt = Prompt.objects.filter(slug=slug).select_related("default_version").first()
    if prompt is None:
        raise GatewayError(404, f"No prompt {slug!r}.", code="prompt_not_found")
    versions = prompt.versions.order_by("-number")
    if number is None and prompt.default_version is not None:
        version = prompt.default_version
    else:
        version = (
            versions.first() if number in (None, -1) else versions.filter(number=number).first()
        )
    if version is None:
        what = f"version {number}" if number and number > 0 else "any version"
        raise GatewayError(404, f"Prompt {slug!r} has no {what}.", code="prompt_version_not_found")
    version.prompt = prompt
    return version


def blob_uris(shas: set[str]) -> dict[str, str]:
    """Each fixed image of a template as a data URI, read from blob storage."""
    out = {}
    for blob in Blob.objects.filter(sha256__in=list(shas)):
        try:
            with default_storage.open(blob.storage_name) as f:
                out[blob.sha256] = data_uri(blob.mime, f.read())
        except OSError:  # FileNotFoundError: the row outlived its file; reported below
            continue
    if missing := shas - out.keys():
        raise GatewayError(
            500,
            f"The prompt's image {sorted(missing)[0]} is missing from blob storage.",
            code="prompt_image_missing",
        )
    return out


def render(ref: str, request: object) -> Rendered:
    """Render the version a reference names with the variables of a prompt request."""
    if not isinstance(request, dict):
        raise GatewayError(400, "The body must be a JSON object.", code="invalid_json")
    version = load_version(ref)
    variables = request.get("variables") or {}
    blobs = blob_uris(blob_refs(version.messages))
    messages = render_messages(version.messages, variables, blobs)
    body = chat_body(version, messages, request)
    return Rendered(version.prompt.slug, version.number, body, logged_variables(variables))


def save_version(prompt: Prompt, **fields: object) -> PromptVersion:
    """A new version of a saved prompt, numbered after the last one, from its current route.
    fields: messages, params, note, created_by, and make_default (True by default)."""
    make_default = fields.pop("make_default", True)
    check_messages(fields.get("messages"))
    with transaction.atomic():
        # Lock the prompt row: two editors saving at once get consecutive numbers.
        locked = Prompt.objects.select_for_update().get(pk=prompt.pk)
        last = locked.versions.order_by("-number").values_list("number", flat=True).first()
        version = PromptVersion.objects.create(
            prompt=locked,
            number=(last or 0) + 1,
            provider=locked.provider,
            model=locked.model,
            **fields,
        )
        if make_default or locked.default_version_id is None:
            Prompt.objects.filter(pk=locked.pk).update(default_version=version)
    return version


def store_image(data: bytes) -> Blob:
    """Keep an uploaded image in blob storage (once per SHA-256), as the request log does."""
    from gateway.log import blobs

    image = Image(message=0, part=0, origin="base64")
    image.describe(data)  # ImageError when these bytes are no image
    new_rows, _ = blobs.store({image.sha256: blobs.BlobData.of(image)})
    Blob.objects.bulk_create(new_rows, ignore_conflicts=True)
    return Blob.objects.get(pk=image.sha256)
