"""POST /v1/responses (the shared request path, gateway/service.py), GET/DELETE
/v1/responses/{id} and GET /v1/responses/{id}/input_items (gateway/responses/proxy.py)."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway import service
from gateway.errors import GatewayError
from gateway.responses import proxy

ENDPOINT = service.Endpoint("responses", proxy.parse, proxy.forward)


def _refused(allowed: str) -> HttpResponse:
    response = GatewayError(405, f"Use {allowed}.", code="method_not_allowed").response()
    response["Allow"] = allowed
    return response


@service.logs_requests
@csrf_exempt
async def create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _refused("POST")
    return await service.complete(service.Call.of(request), ENDPOINT)


@csrf_exempt
@service.with_portkey_headers
async def response(request: HttpRequest, response_id: str) -> HttpResponse:
    if request.method == "GET":
        return await proxy.retrieve(request, response_id)
    if request.method == "DELETE":
        return await proxy.delete(request, response_id)
    return _refused("GET, DELETE")


@csrf_exempt
@service.with_portkey_headers
async def input_items(request: HttpRequest, response_id: str) -> HttpResponse:
    if request.method != "GET":
        return _refused("GET")
    return await proxy.input_items(request, response_id)
