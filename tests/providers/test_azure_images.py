"""Azure OpenAI's Images API routes (gateway/providers/azure_images.py): each request built here
is handed to the fake Azure (tests/fakes/azure.py), which checks route, version, key and body
(the `openai` SDK's ImageGenerateParams / ImageEditParams) as Azure would."""

import base64
import json
from urllib.parse import urlsplit

import orjson
import pytest

from gateway.errors import GatewayError
from gateway.imagejob import EDITS, GENERATIONS, VARIATIONS, parse_image_job
from gateway.providers import azure_images
from gateway.providers.base import Target
from tests.conftest import png_bytes
from tests.fakes import azure as fake
from tests.fakes.server import Received

HOST = "http://127.0.0.1:9/openai"


def target(**options: str) -> Target:
    defaults = {"azure-resource-name": "iris-img", "azure-deployment-id": "gpt-image-1"}
    return Target("azure-openai", api_key=fake.API_KEY, options={**defaults, **options})


def generation(**body):
    return parse_image_job(GENERATIONS, orjson.dumps(body), "application/json")


def multipart_edit(images: list[bytes], mask: bytes | None = None, **fields):
    """An edit as the openai SDK sends it, via openai_images.multipart on a JSON-made job."""
    refs = [{"image_url": "data:image/png;base64," + base64.b64encode(d).decode()} for d in images]
    body = {"images": refs, **fields}
    if mask is not None:
        body["mask"] = {"image_url": "data:image/png;base64," + base64.b64encode(mask).decode()}
    job = parse_image_job(EDITS, orjson.dumps(body), "application/json")
    job.multipart = True  # as if it had come as multipart: rebuilt as such for Azure
    return job


def at_fake(upstream) -> Received:
    url = urlsplit(upstream.url)
    path = url.path + (f"?{url.query}" if url.query else "")
    return Received("POST", path, dict(upstream.headers), upstream.content)


def test_generations_go_to_the_deployment_with_the_preview_version_by_default():
    job = generation(model="gpt-image-1", prompt="a kite", n=2, size="1024x1536")
    upstream = azure_images.build_request(job, target())
    assert upstream.url == (
        "https://iris-img.openai.azure.com/openai/deployments/gpt-image-1/images/generations"
        "?api-version=2025-04-01-preview"
    )
    assert upstream.headers["api-key"] == fake.API_KEY and "authorization" not in upstream.headers
    assert upstream.content == job.raw  # OpenAI's body, as the client sent it
    reply = fake.handle(at_fake(upstream))
    assert reply.status == 200, reply.body
    answer = json.loads(reply.body)
    assert len(answer["data"]) == 2 and answer["data"][0]["content_filter_results"]


def test_a_custom_host_and_a_client_version_are_kept():
    job = generation(model="dall-e-3", prompt="an owl", response_format="b64_json")
    upstream = azure_images.build_request(
        job,
        Target(
            "azure-openai",
            base_url=HOST,
            api_key=fake.API_KEY,
            options={"azure-deployment-id": "dall-e-3", "azure-api-version": "2024-10-21"},
        ),
    )
    assert upstream.url == (
        f"{HOST}/deployments/dall-e-3/images/generations?api-version=2024-10-21"
    )
    answer = json.loads(fake.handle(at_fake(upstream)).body)
    assert answer["data"][0]["revised_prompt"].endswith("an owl")


def test_the_v1_api_names_the_deployment_in_the_body():
    job = generation(model="gpt-image-1", prompt="a kite")
    upstream = azure_images.build_request(job, target(**{"azure-api-version": "v1"}))
    assert upstream.url == "https://iris-img.openai.azure.com/openai/v1/images/generations"
    assert fake.handle(at_fake(upstream)).status == 200


def test_edits_are_multipart_with_each_image_and_the_mask():
    images = [png_bytes(size=(64, 64)), png_bytes(size=(32, 32), color=(0, 90, 0))]
    mask = png_bytes(size=(64, 64), mode="RGBA", color=(0, 0, 0, 0))
    job = multipart_edit(images, mask, model="gpt-image-1", prompt="add a hat", n=1)
    upstream = azure_images.build_request(job, target())
    assert "/deployments/gpt-image-1/images/edits?api-version=2025-04-01-preview" in upstream.url
    assert upstream.headers["content-type"].startswith("multipart/form-data; boundary=")
    request = at_fake(upstream)
    fields, files = fake.openai_images.parse_multipart(request)
    assert files["image[]"] == images and files["mask"] == [mask]
    assert fields == {"model": "gpt-image-1", "prompt": "add a hat", "n": 1}
    assert fake.handle(request).status == 200


def test_an_entra_token_goes_as_bearer():
    upstream = azure_images.build_request(
        generation(model="gpt-image-1", prompt="x"),
        target(**{"azure-ad-token": fake.ENTRA_TOKEN}),
    )
    assert upstream.headers["authorization"] == f"Bearer {fake.ENTRA_TOKEN}"
    assert fake.handle(at_fake(upstream)).status == 200


def test_a_missing_deployment_or_a_bad_header_is_a_400():
    job = generation(model="gpt-image-1", prompt="x")
    with pytest.raises(GatewayError) as caught:
        azure_images.build_request(job, Target("azure-openai", api_key="k", options={}))
    assert caught.value.param == "x-portkey-azure-resource-name"
    with pytest.raises(GatewayError) as caught:
        azure_images.build_request(job, target(**{"azure-deployment-id": "../chat"}))
    assert caught.value.param == "x-portkey-azure-deployment-id"


def test_the_models_limits_are_openais():
    with pytest.raises(GatewayError) as caught:
        azure_images.check(generation(model="dall-e-3", prompt="x", n=2))
    assert caught.value.param == "n"
    with pytest.raises(GatewayError) as caught:
        azure_images.check(generation(model="gpt-image-1", prompt="x", size="800x600"))
    assert caught.value.param == "size"
    assert VARIATIONS not in azure_images.ENDPOINTS


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/openai/deployments/gpt-image-1/images/edits?api-version=2024-10-21", 404),
        ("/openai/deployments/gpt-image-1/images/generations?api-version=2024-10-21", 400),
        ("/openai/deployments/vision-prod/images/generations?api-version=2025-04-01-preview", 400),
        ("/openai/deployments/nope/images/generations?api-version=2025-04-01-preview", 404),
        ("/openai/v1/images/generations?api-version=2024-10-21", 404),
    ],
)
def test_the_fake_refuses_what_azure_refuses(path, status):
    """The fake earns its place: wrong versions, deployments and routes are refused."""
    body = orjson.dumps({"model": "gpt-image-1", "prompt": "x"})
    headers = {"api-key": fake.API_KEY, "content-type": "application/json"}
    assert fake.handle(Received("POST", path, headers, body)).status == status


def test_the_fake_checks_the_body_against_the_sdk_types():
    path = "/openai/deployments/gpt-image-1/images/generations?api-version=2025-04-01-preview"
    headers = {"api-key": fake.API_KEY, "content-type": "application/json"}
    body = orjson.dumps({"model": "gpt-image-1", "prompt": "x", "steps": 30})
    reply = fake.handle(Received("POST", path, headers, body))
    assert reply.status == 400 and b"steps" in reply.body
