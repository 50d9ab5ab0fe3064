"""A logged request made sendable again: its stored body, each image from the bytes Iris kept.

The log keeps a body with base64 images as `iris-blob:<sha256>` references and URL images as
their URL (with a snapshot blob when GATEWAY_SNAPSHOT_URL_IMAGES took one). A replay sends the
stored bytes, never a refetch: URL images are swapped for their snapshot first, then every
reference becomes a data URI again, with the prefix the client sent where it is known.
"""

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage

from gateway.errors import GatewayError
from gateway.models import Blob, LogImage, RequestLog

BLOB_REF = "iris-blob:"
_REF = re.compile(r"iris-blob:([0-9a-f]{64})")


@dataclass(frozen=True)
class Kind:
    """An endpoint a record can be replayed on: its path and where its images sit."""

    path: str
    container: str | None  # the body's list of messages or items holding image parts


KINDS = {
    "chat.completions": Kind("/v1/chat/completions", "messages"),
    "responses": Kind("/v1/responses", "input"),
    "images.generations": Kind("/v1/images/generations", None),
}


def refused(message: str, code: str = "not_replayable", param: str | None = None) -> GatewayError:
    return GatewayError(400, message, code=code, param=param)


def kind_of(log: RequestLog) -> Kind:
    kind = KINDS.get(log.endpoint or "chat.completions")
    if kind is None:
        raise refused(
            f"A {log.endpoint} record cannot be replayed: chat completions, Responses API "
            "requests and image generations can."
        )
    return kind


def stored_body(log: RequestLog) -> dict:
    """The body as logged, each URL image that has a snapshot as a reference to it, without
    `stream` (a replay answers whole unless asked). 400 when the log kept no usable body."""
    kind = kind_of(log)
    body = log.request_body
    if not isinstance(body, dict) or not body or "_unparsed" in body:
        raise refused("This record kept no request body that parsed: there is nothing to replay.")
    if "_degraded" in body:
        raise refused(f"This record's body was not kept ({body['_degraded']}).")
    body = dict(body)
    if kind.container and isinstance(body.get(kind.container), list):
        body[kind.container] = _with_snapshots(log, body[kind.container])
    body.pop("stream", None)
    body.pop("stream_options", None)
    return body


def _with_snapshots(log: RequestLog, container: list) -> list:
    """The messages (or items), each URL image that was snapshotted as `iris-blob:<sha256>`."""
    images = LogImage.objects.filter(log=log, role="input", origin="url", blob__isnull=False)
    container = [dict(m) if isinstance(m, dict) else m for m in container]
    for img in images.only("message_index", "part_index", "url", "blob_id"):
        try:
            message = container[img.message_index]
            content = message["content"] = list(message["content"])
            part = content[img.part_index] = dict(content[img.part_index])
        except (IndexError, KeyError, TypeError):
            continue  # the body and its images disagree: leave the body as it was
        _swap(part, img.url, BLOB_REF + img.blob_id)
    return container


def _swap(part: dict, url: str, ref: str) -> None:
    """Put ref where the part holds url: chat's image_url.url or the Responses API's image_url."""
    value = part.get("image_url")
    if isinstance(value, dict) and value.get("url") == url:
        part["image_url"] = {**value, "url": ref}
    elif isinstance(value, str) and value == url:
        part["image_url"] = ref


def edited(body: dict, model: str | None, overrides: Mapping | None) -> dict:
    """The body with the caller's changes: `overrides` merged at the top (a key set to None is
    removed; `messages` is replaced whole), then `model` ("" = the @slug's default model).
    A model written "@slug/name" loses its slug: the replay's provider decides the route."""
    if overrides is not None and not isinstance(overrides, Mapping):
        raise refused("'overrides' must be a JSON object.", "invalid_overrides", "overrides")
    body = dict(body)
    for name, value in (overrides or {}).items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    if model is not None and not isinstance(model, str):
        raise refused("'model' must be a string.", "invalid_model", "model")
    if model is not None:
        body["model"] = model
    if isinstance(body.get("model"), str) and body["model"].startswith("@"):
        body["model"] = body["model"].partition("/")[2]
    if body.get("model") == "":
        del body["model"]  # the provider @slug's default model (service.parse fills it in)
    return body


def inline_images(log: RequestLog, body: dict) -> dict:
    """The body with every `iris-blob:<sha256>` string as a data URI of the stored bytes,
    prefixed as the client's was (else by the blob's type). 400 if a blob is gone."""
    refs = list(_refs(body))
    if not refs:
        return body
    shas = set(refs)
    prefixes = {
        sha: prefix
        for sha, prefix in LogImage.objects.filter(log=log, blob_id__in=shas)
        .filter(data_uri_prefix__endswith=";base64,")  # kept whole (it is cut at 100)
        .values_list("blob_id", "data_uri_prefix")
    }
    blobs = list(Blob.objects.filter(sha256__in=shas))
    _check_limits(refs, {blob.sha256: blob.size for blob in blobs}, prefixes)
    uris = {}
    for blob in blobs:
        try:
            with default_storage.open(blob.storage_name) as f:
                data = f.read()
        except OSError:
            continue
        prefix = prefixes.get(blob.sha256) or f"data:{blob.mime or 'image/png'};base64,"
        uris[blob.sha256] = prefix + base64.b64encode(data).decode()
    if missing := shas - uris.keys():
        raise GatewayError(
            409,
            f"The image {min(missing)} of this record is no longer in blob storage "
            "(retention or a lost file), so it cannot be replayed with its bytes.",
            code="image_not_stored",
        )
    return _map(body, lambda s: uris.get(s[len(BLOB_REF) :], s) if _REF.fullmatch(s) else s)


def _check_limits(refs: list[str], sizes: dict[str, int], prefixes: dict[str, str]) -> None:
    """A replay's overrides may name any stored blob, as often as they like: bound the count
    and the bytes inlined as a client's request is bounded, before a blob is read. Each
    reference becomes its own data URI, so a blob named twice counts twice."""
    limit = settings.GATEWAY_MAX_IMAGES_PER_REQUEST
    if len(refs) > limit:
        raise refused(
            f"This replay would send {len(refs)} stored images; a request may have at most "
            f"{limit} (GATEWAY_MAX_IMAGES_PER_REQUEST).",
            "too_many_images",
            "overrides",
        )
    # The data URIs' size (base64 is 4/3 of the bytes, plus the prefix), as they will be sent.
    total = sum(4 * -(-sizes.get(sha, 0) // 3) + len(prefixes.get(sha, "")) + 30 for sha in refs)
    if total > settings.GATEWAY_MAX_BODY_BYTES:
        raise refused(
            f"This replay's images would take {total} bytes as base64; a request body may have "
            f"at most {settings.GATEWAY_MAX_BODY_BYTES} bytes (GATEWAY_MAX_BODY_BYTES).",
            "request_too_large",
            "overrides",
        )


def _refs(value):
    if isinstance(value, str):
        if _REF.fullmatch(value):
            yield value[len(BLOB_REF) :]
    elif isinstance(value, dict):
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _map(value, change):
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: _map(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_map(v, change) for v in value]
    return value


def replay_body(log: RequestLog, model: str | None, overrides: Mapping | None) -> dict:
    """The body a replay sends: stored, edited, images inlined (database and storage I/O)."""
    return inline_images(log, edited(stored_body(log), model, overrides))
