"""Bedrock's model list, for GET /v1/models: ListFoundationModels.

Docs: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListFoundationModels.html
(and botocore's bedrock 2023-04-20 service model; read 2026-11). It is a control-plane call:
GET /foundation-models on bedrock.{region}.amazonaws.com, not the bedrock-runtime host that
Converse uses, signed (SigV4) for the same service name, "bedrock", or carrying a Bedrock API
key (the service model lists bearer auth beside SigV4).
Listed: the models invokable by their plain id (inferenceTypesSupported ON_DEMAND, which the
request also filters on) that answer text or images. Not listed: the inference profiles
(us.anthropic.claude-…) that the newest models are only reachable through: they come from
ListInferenceProfiles, a second call.
"""

import re

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gateway.providers.base import Target, Upstream

CONTROL_URL = "https://bedrock.{region}.amazonaws.com"
SIGNING_NAME = "bedrock"
SERVED_OUTPUTS = frozenset({"TEXT", "IMAGE"})  # chat and the Images API; not EMBEDDING
_PATH = "/foundation-models?byInferenceType=ON_DEMAND"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")  # as bedrock.py's: it names a host
_RUNTIME_HOST = re.compile(r"^(https?://)bedrock-runtime(-fips)?\.")


def list_models_request(target: Target) -> Upstream:
    """The signed GET; a custom base URL on a bedrock-runtime host is moved to the bedrock one,
    any other (a proxy) is asked as it is. ValueError when credentials or region are missing."""
    options = target.options
    key_id, secret = options.get("aws-access-key-id", ""), options.get("aws-secret-access-key", "")
    region = options.get("aws-region", "").strip()
    if region and not _REGION.fullmatch(region):
        raise ValueError("the AWS region is not one")
    if not (key_id and secret) and not target.api_key:
        raise ValueError("no AWS keys and no Bedrock API key")
    if not region and (key_id or not target.base_url):
        raise ValueError("no AWS region")
    if target.base_url:
        base = _RUNTIME_HOST.sub(r"\1bedrock\2.", target.base_url.rstrip("/"))
    else:
        base = CONTROL_URL.format(region=region)
    url, headers = base + _PATH, {"accept": "application/json", **target.headers}
    if not (key_id and secret):
        return Upstream("GET", url, {**headers, "authorization": f"Bearer {target.api_key}"}, b"")
    request = AWSRequest(method="GET", url=url, headers=headers)
    token = options.get("aws-session-token") or None
    SigV4Auth(Credentials(key_id, secret, token), SIGNING_NAME, region).add_auth(request)
    return Upstream("GET", url, {k.lower(): v for k, v in request.headers.items()}, b"")


def parse_models(data: dict) -> list[str]:
    summaries = data.get("modelSummaries") if isinstance(data, dict) else None
    ids = []
    for model in summaries or ():
        if not isinstance(model, dict) or not isinstance(model_id := model.get("modelId"), str):
            continue
        kinds = model.get("inferenceTypesSupported")
        outputs = model.get("outputModalities") or ()
        if (kinds is None or "ON_DEMAND" in kinds) and SERVED_OUTPUTS.intersection(outputs):
            ids.append(model_id)
    return ids
