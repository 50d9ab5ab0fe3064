"""OpenAI-shaped errors: every failure on /v1/ leaves as {"error": {message, type, param, code}}."""

from dataclasses import dataclass, field

import orjson
from django.http import HttpResponse

# OpenAI's error "type" per HTTP status, for errors that come with no type of their own.
_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


@dataclass
class GatewayError(Exception):
    status: int
    message: str
    type: str = ""
    code: str | None = None
    param: str | None = None
    # An upstream's error answer: the headers a retry may follow (retry-after and the like).
    upstream_headers: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.type = self.type or _TYPE_BY_STATUS.get(self.status, "api_error")
        super().__init__(self.message)

    def body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> HttpResponse:
        return HttpResponse(
            orjson.dumps(self.body()), status=self.status, content_type="application/json"
        )
