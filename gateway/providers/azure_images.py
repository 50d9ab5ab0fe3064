"""Azure OpenAI's Images API: OpenAI's bodies and answers at a deployment's routes
(learn.microsoft.com/azure/ai-foundry/openai/reference-preview, checked 2026-11-25):
`{base}/deployments/{deployment}/images/generations|edits?api-version=…`, or with API version
"v1" `{base}/v1/images/generations|edits`, the deployment named by the body's `model`.
gpt-image models need a preview API version (2025-04-01-preview or later): that is the
default here unless the client names one. Azure serves no variations.
"""

from gateway.imagejob import EDITS, GENERATIONS, ImageJob
from gateway.providers import azure, openai_images
from gateway.providers.base import Target, Upstream

NAME = "azure-openai"
ENDPOINTS = frozenset({GENERATIONS, EDITS})
NATIVE_STREAM = True
DEFAULT_API_VERSION = "2025-04-01-preview"
check = openai_images.check
parse_response = openai_images.parse_response
parse_error = azure.parse_error
Stream = openai_images.Stream

_PATHS = {GENERATIONS: "images/generations", EDITS: "images/edits"}


def build_request(job: ImageJob, target: Target) -> Upstream:
    options = target.options
    resource = "" if target.base_url else azure.option(options, "resource-name")
    base = (target.base_url or azure.DEFAULT_BASE_URL.format(resource=resource)).rstrip("/")
    version = options.get("azure-api-version", "").strip() or DEFAULT_API_VERSION
    version = azure.option({"azure-api-version": version}, "api-version")
    if version == "v1":
        url = f"{base}/v1/{_PATHS[job.endpoint]}"
    else:
        deployment = azure.option(options, "deployment-id")
        url = f"{base}/deployments/{deployment}/{_PATHS[job.endpoint]}?api-version={version}"
    return openai_images.build_request(job, target, url=url, auth=azure.auth_headers(target))
