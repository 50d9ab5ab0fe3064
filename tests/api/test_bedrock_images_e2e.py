"""Bedrock's image models through a real Iris: the official `openai` SDK's images.generate and
images.edit in front, the fake Bedrock behind (SigV4 recomputed, bodies checked against AWS's
documented schemas in tests/fakes/bedrock_images.py). The log keeps every output byte for
byte."""

import base64
import io
import json
from urllib.parse import unquote

import httpx
import openai
import pytest
from openai.types import ImagesResponse
from PIL import Image as PILImage

from tests.conftest import SHARED_IMAGES, png_bytes
from tests.fakes import bedrock as fake_bedrock_handler
from tests.fakes import bedrock_images as fake_images

NOVA = "amazon.nova-canvas-v1:0"
TITAN = "amazon.titan-image-generator-v2:0"
ULTRA = "stability.stable-image-ultra-v1:1"
COFFEE = (SHARED_IMAGES / "coffee.png").read_bytes()  # 600x400 PNG
AWS_HEADERS = {
    "x-portkey-aws-access-key-id": fake_bedrock_handler.ACCESS_KEY_ID,
    "x-portkey-aws-secret-access-key": fake_bedrock_handler.SECRET_ACCESS_KEY,
    "x-portkey-aws-session-token": fake_bedrock_handler.SESSION_TOKEN,
    "x-portkey-aws-region": fake_bedrock_handler.REGION,
}


@pytest.fixture
def client(iris, fake_bedrock) -> openai.OpenAI:
    headers = {"x-portkey-provider": "bedrock", "x-portkey-custom-host": fake_bedrock.url}
    return openai.OpenAI(
        base_url=iris.url + "/v1",
        api_key="unused",
        max_retries=0,
        default_headers=iris.headers(**headers, **AWS_HEADERS),
    )


def outputs(log: dict) -> list[dict]:
    """The record's output images, in order (the logs API's `output_images`)."""
    if "output_images" in log:
        return [img for img in log["output_images"] if not img.get("partial")]
    return [img for img in log["images"] if img.get("role") == "output"]


def stored(iris, image: dict) -> bytes:
    response = httpx.get(image["content_url"], headers=iris.headers())
    response.raise_for_status()
    return response.content


def upstream(fake_bedrock) -> tuple[str, dict]:
    last = fake_bedrock.last("POST")
    return unquote(last.path), json.loads(last.body)


def mask_for(width: int, height: int) -> bytes:
    """OpenAI's mask: transparent where the edit goes (the left half)."""
    mask = PILImage.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


def test_nova_canvas_generates_and_the_log_keeps_each_image_byte_for_byte(
    client, iris, fake_bedrock
):
    raw = client.images.with_raw_response.generate(
        model=NOVA, prompt="a lighthouse at dusk", n=2, size="1280x720", quality="hd"
    )
    result = raw.parse()
    ImagesResponse.model_validate(result.model_dump())
    received = [base64.b64decode(item.b64_json) for item in result.data]
    assert len(received) == 2 and received[0] != received[1]
    assert PILImage.open(io.BytesIO(received[0])).size == (1280, 720)
    assert result.output_format == "png"
    path, body = upstream(fake_bedrock)
    assert path == f"/model/{NOVA}/invoke"
    assert fake_bedrock.last("POST").headers["authorization"].startswith("AWS4-HMAC-SHA256")
    assert body["imageGenerationConfig"] == {
        "numberOfImages": 2,
        "quality": "premium",
        "width": 1280,
        "height": 720,
    }

    log = iris.log(raw.headers["x-iris-request-id"])
    assert (log["endpoint"], log["provider"], log["status_code"]) == (
        "images.generations",
        "bedrock",
        200,
    )
    assert log["upstream_url"].endswith("/model/amazon.nova-canvas-v1%3A0/invoke")
    assert log["upstream_body"]["taskType"] == "TEXT_IMAGE"
    kept = outputs(log)
    assert [stored(iris, img) for img in kept] == received
    assert (kept[0]["mime"], kept[0]["width"], kept[0]["height"]) == ("image/png", 1280, 720)
    assert log["request_headers"]["x-portkey-aws-secret-access-key"] == "[redacted]"
    assert fake_bedrock_handler.SECRET_ACCESS_KEY not in json.dumps(log)


def test_titan_inpaints_with_the_mask_redrawn_black_and_white(client, iris, fake_bedrock):
    raw = client.images.with_raw_response.edit(
        model=TITAN,
        image=("coffee.png", COFFEE, "image/png"),
        mask=("mask.png", mask_for(600, 400), "image/png"),
        prompt="a croissant beside the cup",
    )
    result = raw.parse()
    [picture] = [base64.b64decode(item.b64_json) for item in result.data]
    assert PILImage.open(io.BytesIO(picture)).size == (600, 400)  # inpainting keeps the size
    _, body = upstream(fake_bedrock)
    params = body["inPaintingParams"]
    assert body["taskType"] == "INPAINTING"
    assert base64.b64decode(params["image"]) == COFFEE
    mask = PILImage.open(io.BytesIO(base64.b64decode(params["maskImage"]))).convert("RGB")
    assert (mask.getpixel((0, 0)), mask.getpixel((599, 0))) == ((0, 0, 0), (255, 255, 255))

    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["endpoint"] == "images.edits"
    roles = [img.get("role") for img in log["images"]]
    assert roles[:2] == ["input", "mask"]
    assert stored(iris, log["images"][0]) == COFFEE
    assert [stored(iris, img) for img in outputs(log)] == [picture]
    # The input image is a reference in the logged upstream body, not its base64.
    assert log["upstream_body"]["inPaintingParams"]["image"].startswith("iris-blob:")


def test_nova_makes_a_variation_of_several_images(client, iris, fake_bedrock):
    second = png_bytes(size=(512, 512), color=(20, 160, 40))
    result = client.images.edit(
        model=NOVA,
        image=[("coffee.png", COFFEE, "image/png"), ("green.png", second, "image/png")],
        prompt="the same scene in watercolour",
        size="768x768",
        n=3,
    )
    assert len(result.data) == 3
    assert PILImage.open(io.BytesIO(base64.b64decode(result.data[0].b64_json))).size == (768, 768)
    _, body = upstream(fake_bedrock)
    assert body["taskType"] == "IMAGE_VARIATION"
    images = body["imageVariationParams"]["images"]
    assert [base64.b64decode(b) for b in images] == [COFFEE, second]


def test_stability_generates_in_the_asked_format(client, iris, fake_bedrock):
    raw = client.images.with_raw_response.generate(
        model=ULTRA, prompt="a bridge in fog", size="1536x1024", output_format="jpeg"
    )
    result = raw.parse()
    [picture] = [base64.b64decode(item.b64_json) for item in result.data]
    assert PILImage.open(io.BytesIO(picture)).format == "JPEG"
    assert result.output_format == "jpeg"
    path, body = upstream(fake_bedrock)
    assert path == f"/model/{ULTRA}/invoke"
    assert body == {"prompt": "a bridge in fog", "aspect_ratio": "3:2", "output_format": "jpeg"}
    log = iris.log(raw.headers["x-iris-request-id"])
    [kept] = outputs(log)
    assert stored(iris, kept) == picture and kept["mime"] == "image/jpeg"


def test_a_stream_is_made_from_the_whole_answer(client, iris, fake_bedrock):
    stream = client.images.with_raw_response.generate(
        model=NOVA, prompt="two moons", n=2, stream=True
    )
    # The SDK builds its events without validating them; a strict check would also ask for
    # `usage` and `quality`, which Bedrock does not report.
    events = list(stream.parse())
    assert [e.type for e in events] == ["image_generation.completed"] * 2
    assert (events[0].size, events[0].output_format, events[0].background) == (
        "1024x1024",
        "png",
        "opaque",
    )
    received = [base64.b64decode(e.b64_json) for e in events]
    log = iris.log(stream.headers["x-iris-request-id"])
    assert log["is_stream"] and [stored(iris, img) for img in outputs(log)] == received


@pytest.mark.parametrize("model", [NOVA, TITAN, ULTRA])
def test_a_filtered_prompt_is_a_clear_400(client, fake_bedrock, model):
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model=model, prompt=f"something {fake_images.FILTERED}")
    error = caught.value.body
    assert error["code"] == "content_policy_violation"
    assert "content filter" in error["message"]


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"model": NOVA, "n": 6}, "n", "1 to 5 images"),
        ({"model": ULTRA, "n": 2}, "n", "n=1"),
        ({"model": TITAN, "size": "1536x1024"}, "size", "does not offer size"),
        ({"model": NOVA, "size": "1000x1000"}, "size", "divisible by 16"),
    ],
)
def test_limits_are_400s_before_any_upstream_call(client, fake_bedrock, params, param, words):
    before = len(fake_bedrock.received)
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(prompt="x", **params)
    assert caught.value.body["param"] == param and words in caught.value.body["message"]
    assert len(fake_bedrock.received) == before


def test_anthropic_has_no_image_generation_and_says_who_does(iris):
    client = openai.OpenAI(
        base_url=iris.url + "/v1",
        api_key="sk-ant-unused",
        max_retries=0,
        default_headers=iris.headers(**{"x-portkey-provider": "anthropic"}),
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="claude-sonnet-4-5", prompt="a cat")
    message = caught.value.body["message"]
    assert caught.value.body["code"] == "unsupported_endpoint"
    assert all(name in message for name in ("openai", "azure-openai", "google", "bedrock"))
