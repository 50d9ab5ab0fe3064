"""Anthropic's model list for GET /v1/models. Pure: used by anthropic.py."""

from gateway.providers.base import Target, Upstream

API_VERSION = "2023-06-01"
DEFAULT_BASE_URL = "https://api.anthropic.com/v1"


def list_models_request(target: Target) -> Upstream:
    """GET /v1/models (docs.anthropic.com/en/api/models-list): the first page, at its largest
    (limit 1000), which holds every model Anthropic serves a key today."""
    headers = {
        "accept": "application/json",
        "anthropic-version": target.options.get("anthropic-version") or API_VERSION,
        **target.headers,
    }
    if target.api_key:
        headers["x-api-key"] = target.api_key
    root = (target.base_url or DEFAULT_BASE_URL).rstrip("/")
    return Upstream("GET", f"{root}/models?limit=1000", headers, b"")


def parse_models(data: dict) -> list[str]:
    """The ids of a ListResponse[ModelInfo] ({"data": [{"id", "lifecycle", …}], …}), but the
    retired models: the list keeps them as a record, requests naming them fail."""
    items = data.get("data") if isinstance(data, dict) else None
    return [
        m["id"]
        for m in items or ()
        if isinstance(m, dict) and isinstance(m.get("id"), str) and m.get("lifecycle") != "retired"
    ]
