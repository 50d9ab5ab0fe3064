"""POST /v1/images/generations, /v1/images/edits and /v1/images/variations: the shared request
path (gateway/service.py) with the Images API's parser and proxy (gateway/imageproxy.py)."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway import imageproxy, service
from gateway.errors import GatewayError


def _view(endpoint: service.Endpoint):
    @service.logs_requests
    @csrf_exempt
    async def view(request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            response = GatewayError(405, "Use POST.", code="method_not_allowed").response()
            response["Allow"] = "POST"
            return response
        return await service.complete(service.Call.of(request), endpoint)

    return view


generations = _view(imageproxy.GENERATIONS_ENDPOINT)
edits = _view(imageproxy.EDITS_ENDPOINT)
variations = _view(imageproxy.VARIATIONS_ENDPOINT)
