"""Azure OpenAI's Images API through a real Iris: the official `openai` SDK in front, the fake
Azure behind (deployment routes, API versions and keys as Azure checks them, bodies against the
SDK's ImageGenerateParams / ImageEditParams). The log keeps every output byte for byte."""

import base64
import io
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import openai
import pytest
from openai.types import ImagesResponse
from PIL import Image as PILImage

from tests.conftest import SHARED_IMAGES, png_bytes
from tests.fakes import azure as fake_azure_handler

CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()  # 451x300 PNG
PREVIEW = "2025-04-01-preview"


def make_client(iris, fake_azure, deployment="gpt-image-1", version=PREVIEW) -> openai.OpenAI:
    headers = {
        "x-portkey-provider": "azure-openai",
        "x-portkey-custom-host": f"{fake_azure.url}/openai",
        "x-portkey-azure-resource-name": "iris-images",
        "x-portkey-azure-deployment-id": deployment,
        "x-portkey-azure-api-version": version,
    }
    return openai.OpenAI(
        base_url=iris.url + "/v1",
        api_key=fake_azure_handler.API_KEY,
        max_retries=0,
        default_headers=iris.headers(**headers),
    )


@pytest.fixture
def client(iris, fake_azure) -> openai.OpenAI:
    return make_client(iris, fake_azure)


def outputs(log: dict) -> list[dict]:
    if "output_images" in log:
        return [img for img in log["output_images"] if not img.get("partial")]
    return [img for img in log["images"] if img.get("role") == "output"]


def stored(iris, image: dict) -> bytes:
    response = httpx.get(image["content_url"], headers=iris.headers())
    response.raise_for_status()
    return response.content


def last_route(fake_azure) -> tuple[str, dict]:
    url = urlsplit(fake_azure.last("POST").path)
    return url.path, parse_qs(url.query)


def mask_for(width: int, height: int) -> bytes:
    mask = PILImage.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


def test_generations_at_the_deployment_keep_each_image_byte_for_byte(client, iris, fake_azure):
    raw = client.images.with_raw_response.generate(
        model="gpt-image-1", prompt="a paper kite", n=2, size="1536x1024", quality="low"
    )
    result = raw.parse()
    ImagesResponse.model_validate(result.model_dump())
    received = [base64.b64decode(item.b64_json) for item in result.data]
    assert len(received) == 2 and received[0] != received[1]
    assert PILImage.open(io.BytesIO(received[0])).size == (1536, 1024)
    assert result.usage.output_tokens == 544
    path, query = last_route(fake_azure)
    assert path == "/openai/deployments/gpt-image-1/images/generations"
    assert query == {"api-version": [PREVIEW]}
    assert fake_azure.last("POST").headers["api-key"] == fake_azure_handler.API_KEY

    log = iris.log(raw.headers["x-iris-request-id"])
    assert (log["endpoint"], log["provider"], log["status_code"]) == (
        "images.generations",
        "azure-openai",
        200,
    )
    assert [stored(iris, img) for img in outputs(log)] == received
    assert log["response_body"]["usage"]["total_tokens"] == result.usage.total_tokens
    assert (
        log["response_body"]["data"][0]["content_filter_results"]["violence"]["filtered"] is False
    )
    assert fake_azure_handler.API_KEY not in json.dumps(log)


def test_edits_send_every_image_and_the_mask_as_multipart(client, iris, fake_azure):
    second = png_bytes(size=(64, 48), color=(10, 200, 30))
    raw = client.images.with_raw_response.edit(
        model="gpt-image-1",
        image=[("cat.png", CAT, "image/png"), ("green.png", second, "image/png")],
        mask=("mask.png", mask_for(451, 300), "image/png"),
        prompt="give the cat a hat",
        input_fidelity="high",
    )
    result = raw.parse()
    [picture] = [base64.b64decode(item.b64_json) for item in result.data]
    path, query = last_route(fake_azure)
    assert path == "/openai/deployments/gpt-image-1/images/edits" and query["api-version"] == [
        PREVIEW
    ]
    fields, files = fake_azure_handler.openai_images.parse_multipart(fake_azure.last("POST"))
    assert files["image[]"] == [CAT, second] and files["mask"] == [mask_for(451, 300)]
    assert fields == {
        "model": "gpt-image-1",
        "prompt": "give the cat a hat",
        "input_fidelity": "high",
    }

    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["endpoint"] == "images.edits"
    assert [img.get("role") for img in log["images"]][:3] == ["input", "input", "mask"]
    assert [stored(iris, img) for img in log["images"][:3]] == [CAT, second, mask_for(451, 300)]
    assert [stored(iris, img) for img in outputs(log)] == [picture]


def test_dall_e_3_on_a_ga_version_and_its_revised_prompt(iris, fake_azure):
    client = make_client(iris, fake_azure, deployment="dall-e-3", version="2024-10-21")
    raw = client.images.with_raw_response.generate(
        model="dall-e-3", prompt="an owl", size="1792x1024", response_format="b64_json"
    )
    [item] = raw.parse().data
    assert item.revised_prompt == "A detailed picture: an owl"
    assert last_route(fake_azure) == (
        "/openai/deployments/dall-e-3/images/generations",
        {"api-version": ["2024-10-21"]},
    )
    log = iris.log(raw.headers["x-iris-request-id"])
    [kept] = outputs(log)
    assert stored(iris, kept) == base64.b64decode(item.b64_json)
    assert (kept["width"], kept["height"]) == (1792, 1024)


def test_the_v1_api_names_the_deployment_in_the_body(iris, fake_azure):
    client = make_client(iris, fake_azure, version="v1")
    result = client.images.generate(model="gpt-image-1", prompt="a kite")
    assert len(result.data) == 1
    assert last_route(fake_azure) == ("/openai/v1/images/generations", {})


def test_a_stream_with_partial_images_is_relayed_and_kept(client, iris, fake_azure):
    stream = client.images.with_raw_response.generate(
        model="gpt-image-1", prompt="a comet", stream=True, partial_images=2, size="1024x1024"
    )
    events = list(stream.parse())
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    log = iris.log(stream.headers["x-iris-request-id"])
    assert log["is_stream"]
    assert [stored(iris, img) for img in outputs(log)] == [base64.b64decode(events[-1].b64_json)]
    partials = [img for img in log.get("output_images", []) if img.get("partial")]
    assert [stored(iris, img) for img in partials] == [
        base64.b64decode(e.b64_json) for e in events[:2]
    ]


def test_azures_refusals_reach_the_client(iris, fake_azure, client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(
            model="gpt-image-1", prompt=f"{fake_azure_handler.FILTER_PROMPT} please"
        )
    assert caught.value.body["code"] == "content_filter"
    ga = make_client(iris, fake_azure, version="2024-10-21")
    with pytest.raises(openai.NotFoundError):  # edits need a preview API version
        ga.images.edit(model="gpt-image-1", image=("cat.png", CAT, "image/png"), prompt="x")
    chat = make_client(iris, fake_azure, deployment="vision-prod")
    with pytest.raises(openai.BadRequestError) as caught:
        chat.images.generate(model="gpt-image-1", prompt="x")
    assert caught.value.body["code"] == "OperationNotSupported"


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # create_variation
def test_limits_are_400s_before_any_upstream_call(client, fake_azure):
    before = len(fake_azure.received)
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="dall-e-3", prompt="x", n=2)
    assert caught.value.body["param"] == "n"
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="gpt-image-1", prompt="x", size="800x600")
    assert caught.value.body["param"] == "size"
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.create_variation(image=("cat.png", CAT, "image/png"))
    assert "azure-openai" in caught.value.body["message"]
    assert len(fake_azure.received) == before
