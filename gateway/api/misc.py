"""What /v1/ answers for a path it does not serve: OpenAI's error shape, naming what it does."""

from django.http import HttpRequest, HttpResponse

from gateway.errors import GatewayError

SERVED = (
    "POST /v1/chat/completions",
    "POST /v1/images/generations",
    "POST /v1/images/edits",
    "POST /v1/images/variations",
    "GET /v1/models",
    "GET /v1/models/{id}",
    "POST /v1/responses",
    "POST /v1/estimate",
    "GET|DELETE /v1/responses/{id}",
    "GET /v1/responses/{id}/input_items",
    "POST /v1/prompts/{id}/completions",
    "POST /v1/prompts/{id}/render",
    "GET /v1/logs",
    "GET /v1/logs/{id}",
    "GET /v1/logs/{id}/images/{image_id}",
)


async def not_found(request: HttpRequest) -> HttpResponse:
    return GatewayError(
        404,
        f"Iris serves no {request.method} {request.path}. It serves: {'; '.join(SERVED)}.",
        code="unknown_url",
    ).response()
