"""Bedrock's image models (gateway/providers/bedrock_images.py): each body built here is
checked by the fake Bedrock's validator (tests/fakes/bedrock_images.py, written from AWS's
documented schemas) and its signature recomputed as AWS would."""

import base64
import io
from urllib.parse import urlsplit

import orjson
import pytest
from openai.types import ImagesResponse
from PIL import Image as PILImage

from gateway import providers
from gateway.errors import GatewayError
from gateway.imagejob import EDITS, GENERATIONS, ImageJob, parse_image_job
from gateway.providers import bedrock, bedrock_images
from gateway.providers.base import Target
from tests.conftest import png_bytes
from tests.fakes import bedrock as fake
from tests.fakes import bedrock_images as fake_images
from tests.fakes.server import Received

NOVA = "amazon.nova-canvas-v1:0"
TITAN = "amazon.titan-image-generator-v2:0"
ULTRA = "stability.stable-image-ultra-v1:1"
SD35 = "stability.sd3-5-large-v1:0"
AWS = {
    "aws-access-key-id": fake.ACCESS_KEY_ID,
    "aws-secret-access-key": fake.SECRET_ACCESS_KEY,
    "aws-region": fake.REGION,
}


def generation(**body) -> ImageJob:
    return parse_image_job(GENERATIONS, orjson.dumps(body), "application/json")


def edit(images: list[bytes], mask: bytes | None = None, **body) -> ImageJob:
    refs = [{"image_url": _uri(data)} for data in images]
    if mask is not None:
        body["mask"] = {"image_url": _uri(mask)}
    return parse_image_job(EDITS, orjson.dumps({"images": refs, **body}), "application/json")


def _uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def sent(job: ImageJob, options: dict | None = None) -> dict:
    """What goes upstream, after check(), as the fake Bedrock accepts it (or refuses it)."""
    bedrock_images.check(job)
    upstream = bedrock_images.build_request(job, Target("bedrock", options=options or AWS))
    url = urlsplit(upstream.url)
    request = Received("POST", url.path, {**upstream.headers, "host": url.netloc}, upstream.content)
    fake.check_auth(request)
    status, _answer = fake_images.invoke(
        url.path.split("/")[-2].replace("%3A", ":"), orjson.loads(upstream.content)
    )
    assert status == 200
    return orjson.loads(upstream.content)


def refusal(job: ImageJob) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        bedrock_images.check(job)
        bedrock_images.build_request(job, Target("bedrock", options=AWS))
    assert caught.value.status == 400
    return caught.value


def rgba_mask(size: tuple[int, int], hole: tuple[int, int, int, int]) -> bytes:
    mask = PILImage.new("RGBA", size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), hole)
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


def test_nova_text_to_image_is_signed_and_sized_as_asked():
    job = generation(model=NOVA, prompt="a red fox", n=3, size="1280x720", quality="hd")
    upstream = bedrock_images.build_request(job, Target("bedrock", options=AWS))
    assert (
        upstream.url
        == "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.nova-canvas-v1%3A0/invoke"
    )
    assert upstream.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIA")
    body = sent(job)
    assert body == {
        "taskType": "TEXT_IMAGE",
        "textToImageParams": {"text": "a red fox"},
        "imageGenerationConfig": {
            "numberOfImages": 3,
            "quality": "premium",
            "width": 1280,
            "height": 720,
        },
    }


def test_titan_defaults_to_one_standard_square_image_and_passes_a_seed():
    body = sent(generation(model=TITAN, prompt="a teapot", seed=7, quality="medium"))
    config = body["imageGenerationConfig"]
    assert config == {
        "numberOfImages": 1,
        "quality": "standard",
        "seed": 7,
        "width": 1024,
        "height": 1024,
    }


def test_a_bedrock_api_key_is_sent_as_bearer():
    job = generation(model=NOVA, prompt="a fox")
    target = Target("bedrock", api_key=fake.API_KEY, options={"aws-region": "us-west-2"})
    upstream = bedrock_images.build_request(job, target)
    assert upstream.headers["authorization"] == f"Bearer {fake.API_KEY}"
    assert "bedrock-runtime.us-west-2" in upstream.url


def test_missing_credentials_are_a_400_before_anything_is_sent():
    with pytest.raises(GatewayError) as caught:
        bedrock_images.build_request(generation(model=NOVA, prompt="x"), Target("bedrock"))
    assert caught.value.code == "missing_credentials"


@pytest.mark.parametrize(
    ("model", "size", "why"),
    [
        (NOVA, "1000x1000", "divisible by 16"),
        (NOVA, "4096x4096", "4,194,304 pixels"),
        (NOVA, "320x1600", "1:4 to 4:1"),
        (NOVA, "big", "WIDTHxHEIGHT"),
        (TITAN, "1536x1024", "it offers: 320x704"),
        (ULTRA, "1792x1024", "aspect ratios"),
    ],
)
def test_a_size_the_model_does_not_offer_is_a_400(model, size, why):
    error = refusal(generation(model=model, prompt="x", size=size))
    assert error.param == "size" and why in error.message


def test_n_beyond_the_model_is_a_400():
    assert "1 to 5 images" in refusal(generation(model=NOVA, prompt="x", n=6)).message
    assert "n=1" in refusal(generation(model=ULTRA, prompt="x", n=2)).message


def test_other_limits_are_400s():
    assert refusal(generation(model=TITAN, prompt="x" * 513)).param == "prompt"
    assert refusal(generation(model=NOVA, prompt="x", quality="ultra")).param == "quality"
    assert refusal(generation(model=NOVA, prompt="x", output_format="jpeg")).param == (
        "output_format"
    )
    assert refusal(generation(model=NOVA, prompt="x", response_format="url")).param == (
        "response_format"
    )
    assert refusal(generation(model=ULTRA, prompt="x", background="transparent")).param == (
        "background"
    )


def test_an_unknown_image_model_names_the_families_iris_speaks():
    error = refusal(generation(model="stability.stable-diffusion-xl-v1", prompt="x"))
    assert error.code == "unsupported_model"
    assert "Nova Canvas" in error.message and "stability.sd3-5-large-v1:0" in error.message


def test_stability_maps_the_size_to_an_aspect_ratio_and_keeps_the_format():
    body = sent(generation(model=ULTRA, prompt="a bridge", size="1536x1024", output_format="webp"))
    assert body == {"prompt": "a bridge", "aspect_ratio": "3:2", "output_format": "webp"}
    body = sent(generation(model=SD35, prompt="a bridge", seed=3))
    assert body == {
        "prompt": "a bridge",
        "mode": "text-to-image",
        "aspect_ratio": "1:1",
        "output_format": "png",
        "seed": 3,
    }


def test_stability_does_not_edit_through_iris():
    error = refusal(edit([png_bytes(size=(512, 512))], model=ULTRA, prompt="x"))
    assert error.code == "unsupported_endpoint" and "Nova Canvas" in error.message


def test_an_edit_with_a_mask_is_inpainting_with_a_black_and_white_mask():
    image = png_bytes(size=(512, 384))
    job = edit([image], rgba_mask((512, 384), (0, 0, 256, 384)), model=NOVA, prompt="a boat")
    body = sent(job)
    params = body["inPaintingParams"]
    assert body["taskType"] == "INPAINTING"
    assert body["imageGenerationConfig"] == {"numberOfImages": 1, "quality": "standard"}
    assert base64.b64decode(params["image"]) == image
    mask = PILImage.open(io.BytesIO(base64.b64decode(params["maskImage"]))).convert("RGB")
    assert mask.size == (512, 384)
    assert mask.getpixel((10, 10)) == (0, 0, 0)  # transparent in OpenAI's mask: edit here
    assert mask.getpixel((300, 10)) == (255, 255, 255)  # opaque: keep


def test_the_input_image_goes_upstream_as_the_same_base64_object_the_log_recognises():
    job = edit([png_bytes(size=(512, 512))], model=TITAN, prompt="x")
    upstream = bedrock_images.build_request(job, Target("bedrock", options=AWS))
    assert upstream.sent["imageVariationParams"]["images"][0] is job.inputs[0].payload_base64


def test_an_edit_without_a_mask_is_a_variation_of_up_to_five_images():
    images = [png_bytes(size=(512, 512), color=(i * 40, 0, 0)) for i in range(3)]
    body = sent(edit(images, model=NOVA, prompt="in watercolour", size="768x768", n=2))
    assert body["taskType"] == "IMAGE_VARIATION"
    assert [base64.b64decode(b) for b in body["imageVariationParams"]["images"]] == images
    assert body["imageVariationParams"]["text"] == "in watercolour"
    assert body["imageGenerationConfig"]["width"] == 768
    six = [png_bytes(size=(512, 512))] * 6
    assert refusal(edit(six, model=NOVA, prompt="x")).param == "image"


def test_edit_limits():
    small = png_bytes(size=(100, 100))
    assert "320–4096" in refusal(edit([small], model=NOVA, prompt="x")).message
    image = png_bytes(size=(512, 512))
    opaque = png_bytes(size=(512, 512), color=(0, 0, 0))  # no alpha: nothing marks the edit
    assert refusal(edit([image], opaque, model=NOVA, prompt="x")).code == "invalid_mask"
    two = edit([image, image], rgba_mask((512, 512), (0, 0, 9, 9)), model=NOVA, prompt="x")
    assert "one image at a time" in refusal(two).message
    resized = edit(
        [image], rgba_mask((512, 512), (0, 0, 9, 9)), model=NOVA, prompt="x", size="1024x1024"
    )
    assert refusal(resized).param == "size"
    gif = edit([png_bytes(size=(512, 512), fmt="GIF")], model=NOVA, prompt="x")
    assert "PNG or JPEG" in refusal(gif).message


def test_images_given_by_url_are_checked_once_fetched():
    job = parse_image_job(
        EDITS,
        orjson.dumps(
            {"model": NOVA, "prompt": "x", "images": [{"image_url": "https://example.com/a.gif"}]}
        ),
        "application/json",
    )
    bedrock_images.check(job)  # no bytes yet: the core fetches them after check()
    job.inputs[0].describe(png_bytes(size=(512, 512), fmt="GIF"))
    with pytest.raises(GatewayError, match="PNG or JPEG"):
        bedrock_images.build_request(job, Target("bedrock", options=AWS))


def test_answers_become_an_images_response():
    images = [base64.b64encode(png_bytes()).decode(), base64.b64encode(png_bytes()).decode()]
    job = generation(model=NOVA, prompt="x", n=2)
    answer = bedrock_images.parse_response({"images": images}, job)
    ImagesResponse.model_validate(answer)
    assert [item["b64_json"] for item in answer["data"]] == images
    assert answer["output_format"] == "png"
    job = generation(model=ULTRA, prompt="x", output_format="jpeg")
    answer = bedrock_images.parse_response(
        {"seeds": [1], "finish_reasons": [None], "images": images[:1]}, job
    )
    assert answer["output_format"] == "jpeg" and len(answer["data"]) == 1


@pytest.mark.parametrize(
    ("model", "answer", "status", "code"),
    [
        (
            TITAN,
            {"images": [], "error": "blocked by our content filters"},
            400,
            "content_policy_violation",
        ),
        (ULTRA, {"finish_reasons": ["Filter reason: prompt"]}, 400, "content_policy_violation"),
        (
            ULTRA,
            {"finish_reasons": ["Filter reason: output image"], "images": []},
            400,
            "content_policy_violation",
        ),
        (
            ULTRA,
            {"seeds": [1], "finish_reasons": ["Inference error"], "images": []},
            502,
            "upstream_error",
        ),
        (NOVA, {"images": []}, 502, "no_images"),
    ],
)
def test_a_filtered_or_empty_answer_is_a_clear_error(model, answer, status, code):
    with pytest.raises(GatewayError) as caught:
        bedrock_images.parse_response(answer, generation(model=model, prompt="x"))
    assert (caught.value.status, caught.value.code) == (status, code)


def test_novas_content_filter_refusal_is_named():
    content = orjson.dumps({"message": "This request has been blocked by our content filters."})
    assert bedrock.parse_error(400, content).code == "content_policy_violation"


def test_anthropic_has_no_images_and_the_error_names_who_does():
    with pytest.raises(GatewayError) as caught:
        providers.images("anthropic", GENERATIONS)
    assert caught.value.status == 400 and caught.value.code == "unsupported_endpoint"
    assert "bedrock" in caught.value.message and "azure-openai" in caught.value.message
    assert providers.images("bedrock", EDITS) is bedrock_images


def test_the_fake_refuses_what_bedrock_documents_as_wrong():
    """The validator earns its place: each documented rule refuses a wrong body."""
    good = {
        "taskType": "TEXT_IMAGE",
        "textToImageParams": {"text": "x"},
        "imageGenerationConfig": {"width": 1024, "height": 1024},
    }
    wrong = [
        {**good, "taskType": "TEXT_TO_IMAGE"},
        {**good, "textToImageParams": {"prompt": "x"}},
        {**good, "imageGenerationConfig": {"numberOfImages": 6}},
        {**good, "imageGenerationConfig": {"width": 1000, "height": 1024}},
        {**good, "imageGenerationConfig": {"quality": "hd"}},
        {"taskType": "INPAINTING", "inPaintingParams": {"image": "not base64!"}},
    ]
    for body in wrong:
        with pytest.raises(fake_images.Refused):
            fake_images.invoke(NOVA, body)
    with pytest.raises(fake_images.Refused):
        fake_images.invoke(TITAN, {**good, "imageGenerationConfig": {"width": 1280, "height": 720}})
    with pytest.raises(fake_images.Refused):
        fake_images.invoke(ULTRA, {"prompt": "x", "aspect_ratio": "3:1"})
    with pytest.raises(fake_images.Refused):
        fake_images.invoke(ULTRA, {"prompt": "x", "mode": "text-to-image"})
