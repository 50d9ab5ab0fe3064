"""POST /v1/prompts/{id}/completions and /render: saved prompts, as the portkey-ai SDK calls them.

`{id}` may pin a version: `id@3`, or `id@latest`; without one, the prompt's default version.
Completions go through the same path as /v1/chat/completions (streaming included): the
rendered body is parsed, routed to the prompt's `@provider`, forwarded and logged like any
other, with the prompt's id, version and variables on the log.
"""

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from gateway import auth, prompts, service
from gateway import log as request_log
from gateway.chat import parse_chat
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.service import internal_error, read_body


@service.logs_requests
@csrf_exempt
async def prompt_completions(request: HttpRequest, ref: str) -> HttpResponse:
    """Render the prompt with the request's variables and run it as a chat completion."""
    if request.method != "POST":
        return GatewayError(405, "Use POST.", code="method_not_allowed").response()

    async def rendered_body(record: request_log.Record) -> bytes:
        record.raw_body = read_body(request)  # what the log shows should rendering fail
        rendered = await render(ref, record.raw_body)
        record.prompt, record.prompt_version = rendered.prompt, rendered.version
        record.prompt_variables = rendered.variables
        return orjson.dumps(rendered.body)

    return await service.complete(service.Call.of(request, rendered_body))


@csrf_exempt
async def prompt_render(request: HttpRequest, ref: str) -> HttpResponse:
    """The chat request the prompt makes with these variables, without calling a model."""
    if request.method != "POST":
        return GatewayError(405, "Use POST.", code="method_not_allowed").response()
    try:
        key = await auth.check(request.headers)
        rendered = await render(ref, read_body(request))
        auth.check_provider(key, rendered.body["model"].split("/")[0].removeprefix("@"))
        parse_chat(orjson.dumps(rendered.body))  # the images checked as a completion would be
    except Exception as exc:
        error = exc if isinstance(exc, GatewayError) else internal_error(exc, request.path)
        return error.response()
    # The shape of Portkey's render API, which the portkey-ai SDK reads as PromptRender.
    return JsonResponse({"success": True, "data": rendered.body})


async def render(ref: str, raw: bytes) -> prompts.Rendered:
    """The prompt request's JSON, rendered against the version `ref` names."""
    try:
        request = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        message = f"Request body is not valid JSON: {exc}"
        raise GatewayError(400, message, code="invalid_json") from None
    return await orm(prompts.render)(ref, request)
