"""Google's model list, for GET /v1/models: models.list of the Gemini API.

Docs: https://ai.google.dev/api/models#method:-models.list (read 2026-11): at most 1000 models
a page (pageSize), each named "models/<id>" with its supportedGenerationMethods. Iris serves
generateContent (chat, Gemini's image models) and predict (Imagen); embedding-only and other
models are left out, and ids lose the "models/" prefix, as requests name them.
"""

from gateway.providers.base import Target, Upstream

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"  # as gemini.py's
SERVED_METHODS = frozenset({"generateContent", "predict"})


def list_models_request(target: Target) -> Upstream:
    root = (target.base_url or DEFAULT_BASE_URL).rstrip("/")
    headers = {"accept": "application/json", **target.headers}
    if target.api_key:
        headers["x-goog-api-key"] = target.api_key  # never ?key=: URLs end up in access logs
    return Upstream("GET", f"{root}/v1beta/models?pageSize=1000", headers, b"")


def parse_models(data: dict) -> list[str]:
    models = data.get("models") if isinstance(data, dict) else None
    ids = []
    for model in models or ():
        if not isinstance(model, dict) or not isinstance(name := model.get("name"), str):
            continue
        methods = model.get("supportedGenerationMethods")
        if isinstance(methods, list) and SERVED_METHODS.intersection(methods):
            ids.append(name.removeprefix("models/"))
    return ids
