"""Azure OpenAI (learn.microsoft.com/azure/ai-services/openai/reference): OpenAI's bodies and
answers (plus content-filter results, kept) at a deployment URL, with `api-key`, or with Bearer for
an Entra ID token: x-portkey-azure-ad-token (Portkey's), or the key with azure-auth-mode: entra.

API version "v1" selects Azure's v1 API (…/openai/api-version-lifecycle): `{base}/v1/chat/
completions` with no api-version parameter, the deployment named by the body's `model`.
"""

import re

from gateway.chat import Chat
from gateway.errors import GatewayError
from gateway.providers import openai
from gateway.providers.base import MAX_EVENT_BYTES, Target, Upstream, error_message

NAME = "azure-openai"
ACCEPTS_IMAGE_URLS = True
IMAGE_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
DEFAULT_BASE_URL = "https://{resource}.openai.azure.com/openai"
DEFAULT_API_VERSION = "2024-10-21"  # the latest GA one (…/openai/api-version-lifecycle)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # so no header can change host or path
parse_response = openai.parse_response


def build_request(chat: Chat, target: Target) -> Upstream:
    options = target.options
    base = target.base_url or DEFAULT_BASE_URL.format(resource=option(options, "resource-name"))
    version = option(options, "api-version", default=DEFAULT_API_VERSION)
    if version == "v1":
        path = "/v1/chat/completions"
    else:
        deployment = option(options, "deployment-id")
        path = f"/deployments/{deployment}/chat/completions?api-version={version}"
    url = base.rstrip("/") + path
    headers = {"content-type": "application/json", **target.headers, **auth_headers(target)}
    return Upstream("POST", url, headers, *openai.body_bytes(chat))


def auth_headers(target: Target) -> dict[str, str]:
    """`api-key`, or Bearer for an Entra ID token (Iris fetches no tokens itself)."""
    options = target.options
    entra = target.api_key if options.get("azure-auth-mode") == "entra" else ""
    if token := options.get("azure-ad-token") or entra:
        return {"authorization": f"Bearer {token.removeprefix('Bearer ')}"}
    return {"api-key": target.api_key} if target.api_key else {}


def option(options: dict, name: str, *, default: str = "") -> str:
    if not _NAME.fullmatch(value := options.get(f"azure-{name}", "").strip() or default):
        header = f"x-portkey-azure-{name}"
        why = f"{value!r} is not valid" if value else "azure-openai requires it"
        raise GatewayError(400, f"{header}: {why}.", code="invalid_azure_header", param=header)
    return value


class Stream:
    """openai.Stream; Azure's filter-only chunks (id, model, object "") are made valid chunks."""

    def __init__(self, chat: Chat, *, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._inner = openai.Stream(chat, max_event_bytes=max_event_bytes)
        self._head, self._early = {}, {}

    def feed(self, data: bytes) -> list[dict]:
        return [c for chunk in self._inner.feed(data) if (c := self._repair(chunk))]

    def close(self) -> list[dict]:
        return [c for chunk in self._inner.close() if (c := self._repair(chunk))]

    def _repair(self, chunk: dict) -> dict | None:
        if chunk.get("object", "chat.completion.chunk") == "chat.completion.chunk":
            if "choices" in chunk and not self._head:  # the first real chunk
                self._head = {key: chunk.get(key) for key in ("id", "created", "model")}
                return {**self._early, **chunk}
            return chunk  # an error event, or a chunk as OpenAI sends it
        if not self._head:  # Azure opens with prompt_filter_results: they ride on the next chunk
            self._early.update((k, v) for k, v in chunk.items() if k.endswith("filter_results"))
            return None
        choices = [{**c, "delta": c.get("delta") or {}} for c in chunk.get("choices") or ()]
        return {**chunk, **self._head, "object": "chat.completion.chunk", "choices": choices}


def parse_error(status: int, content: bytes) -> GatewayError:
    """openai.parse_error, plus API Management's bare errors and the filtered categories."""
    error, data = openai.parse_error(status, content), error_message(content, "")[1]
    body = data.get("error") if isinstance(data.get("error"), dict) else {}
    if not body and isinstance(data.get("message"), str):  # {"statusCode": 401, "message": …}
        error.message = data["message"]
    inner = body.get("innererror") or body.get("inner_error") or {}  # the service | REST spec
    results = inner.get("content_filter_result") or inner.get("content_filter_results") or {}
    hits = [k for k, v in results.items() if isinstance(v, dict) and v.get("filtered")]
    if error.code == "content_filter":  # (…/openai/concepts/content-filter)
        error.message = f"The prompt was filtered ({', '.join(hits) or '?'}). {error.message}"
    return error
