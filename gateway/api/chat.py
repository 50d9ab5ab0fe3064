"""POST /v1/chat/completions: the shared request path (gateway/service.py) with chat's parser."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway import service
from gateway.errors import GatewayError


@service.logs_requests
@csrf_exempt
async def chat_completions(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = GatewayError(405, "Use POST.", code="method_not_allowed").response()
        response["Allow"] = "POST"
        return response
    return await service.complete(service.Call.of(request))
