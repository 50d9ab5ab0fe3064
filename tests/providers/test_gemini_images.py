"""Google's image models in the Images API shape: requests, refusals and answers, no I/O.

Every request body built here also passes the fake upstream's checks (google-genai's types,
see tests/fakes/gemini.py and tests/fakes/gemini_imagen.py)."""

import base64
import json

import orjson
import pytest
from openai.types import ImagesResponse

from gateway.errors import GatewayError
from gateway.imagejob import EDITS, GENERATIONS, ImageJob, parse_image_job
from gateway.providers import gemini_images
from gateway.providers.base import Target
from tests.conftest import png_bytes
from tests.fakes import gemini as fake
from tests.fakes import gemini_imagen as fake_imagen
from tests.fakes.server import Received

TARGET = Target(provider="google", api_key="AIza-test-key")
ROOT = "https://generativelanguage.googleapis.com/v1beta/models"
PNG = png_bytes((32, 24))


def job(endpoint: str = GENERATIONS, **body) -> ImageJob:
    body = {"prompt": "a red fox in snow", **body}
    return parse_image_job(endpoint, orjson.dumps(body), "application/json")


def edit(images: list[bytes], **body) -> ImageJob:
    refs = [{"image_url": "data:image/png;base64," + base64.b64encode(i).decode()} for i in images]
    return job(EDITS, images=refs, **body)


def sent(image_job: ImageJob) -> tuple[str, dict]:
    """The URL and body sent upstream, checked as the fake Gemini API checks them."""
    gemini_images.check(image_job)
    upstream = gemini_images.build_request(image_job, TARGET)
    body = json.loads(upstream.content)
    model = image_job.model
    if gemini_images.is_imagen(model):
        fake_imagen.validate(body, model)
    else:
        fake.validate(body, model)
    assert upstream.headers["x-goog-api-key"] == "AIza-test-key" and "AIza" not in upstream.url
    return upstream.url, body


def refused(image_job: ImageJob) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        gemini_images.check(image_job)
        gemini_images.build_request(image_job, TARGET)
    assert caught.value.status == 400
    return caught.value


def answered(image_job: ImageJob) -> dict:
    """The fake upstream's answer to what Iris sends, parsed, as the openai SDK reads it."""
    url, body = sent(image_job)
    path = url.removeprefix("https://generativelanguage.googleapis.com")
    request = Received("POST", path, {"x-goog-api-key": "k"}, orjson.dumps(body))
    reply = fake.handle(request)
    assert reply.status == 200, reply.body
    answer = gemini_images.parse_response(json.loads(reply.body), image_job)
    ImagesResponse.model_validate(answer)
    return answer


# --- Imagen ------------------------------------------------------------------------------


def test_imagen_is_asked_for_n_images_in_the_predict_shape():
    url, body = sent(job(model="imagen-4.0-generate-001", n=3))
    assert url == f"{ROOT}/imagen-4.0-generate-001:predict"
    # sampleCount always: Imagen's own default is 4 images, OpenAI's is 1.
    assert body == {
        "instances": [{"prompt": "a red fox in snow"}],
        "parameters": {"sampleCount": 3, "includeRaiReason": True},
    }


@pytest.mark.parametrize(
    ("size", "parameters"),
    [
        ("1024x1024", {"aspectRatio": "1:1"}),
        ("896x1280", {"aspectRatio": "3:4"}),  # Imagen's own 3:4 size
        ("1408x768", {"aspectRatio": "16:9"}),
        ("1920x1080", {"aspectRatio": "16:9", "sampleImageSize": "2K"}),
        ("2048x2048", {"aspectRatio": "1:1", "sampleImageSize": "2K"}),
        ("auto", {}),
    ],
)
def test_an_openai_size_becomes_imagens_aspect_ratio_and_image_size(size, parameters):
    _, body = sent(job(model="imagen-4.0-generate-001", size=size))
    assert body["parameters"] == {"sampleCount": 1, "includeRaiReason": True, **parameters}


def test_jpeg_output_and_person_generation_are_passed_on():
    image_job = job(
        model="imagen-4.0-ultra-generate-001",
        output_format="jpeg",
        output_compression=80,
        person_generation="dont_allow",
    )
    _, body = sent(image_job)
    assert body["parameters"]["outputOptions"] == {
        "mimeType": "image/jpeg",
        "compressionQuality": 80,
    }
    assert body["parameters"]["personGeneration"] == "dont_allow"
    [item] = answered(image_job)["data"]
    assert base64.b64decode(item["b64_json"])[:3] == b"\xff\xd8\xff"  # a JPEG came back


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"size": "1536x1024"}, "size", "1:1, 3:4, 4:3, 9:16, 16:9"),
        ({"size": "4096x4096"}, "size", "1K, 2K"),
        ({"size": "big"}, "size", "does not offer"),
        ({"n": 5}, "n", "1 to 4"),
        ({"output_format": "webp"}, "output_format", "png or jpeg"),
        ({"output_compression": 50}, "output_compression", "jpeg"),
        ({"quality": "high"}, "quality", "no quality"),
        ({"background": "transparent"}, "background", "transparent"),
        ({"response_format": "url"}, "response_format", "b64_json"),
        ({"person_generation": "allow_all"}, "person_generation", "dont_allow"),
    ],
)
def test_imagen_refuses_what_it_cannot_make(body, param, words):
    error = refused(job(model="imagen-4.0-generate-001", **body))
    assert error.param == param and words in error.message


def test_2k_needs_imagen_4_standard_or_ultra():
    error = refused(job(model="imagen-4.0-fast-generate-001", size="2048x2048"))
    assert "1K images only" in error.message


def test_imagen_edits_are_refused_with_the_way_that_works():
    error = refused(edit([PNG], model="imagen-4.0-generate-001"))
    assert "Vertex AI" in error.message and "gemini-2.5-flash-image" in error.message


def test_imagen_answers_become_b64_json_items():
    answer = answered(job(model="imagen-4.0-generate-001", n=2, size="1408x768"))
    assert answer["output_format"] == "png" and len(answer["data"]) == 2
    first, second = (base64.b64decode(item["b64_json"]) for item in answer["data"])
    assert first.startswith(b"\x89PNG") and first != second
    assert "usage" not in answer  # Imagen reports none


def test_withheld_images_are_named_and_the_others_kept():
    answer = answered(job(model="imagen-filter-some", n=3))
    assert len(answer["data"]) == 2
    assert answer["rai_filtered_reasons"] == [fake_imagen.FILTERED]


def test_every_image_withheld_is_a_content_filter_error():
    image_job = job(model="imagen-filter-all", n=2)
    _, body = sent(image_job)
    data = json.loads(
        fake_imagen.handle(Received("POST", "", {}, orjson.dumps(body)), image_job.model).body
    )
    with pytest.raises(GatewayError) as caught:
        gemini_images.parse_response(data, image_job)
    assert (caught.value.status, caught.value.code) == (400, "content_filter")
    assert fake_imagen.FILTERED in caught.value.message


def test_an_empty_imagen_answer_is_a_bad_gateway():
    with pytest.raises(GatewayError) as caught:
        gemini_images.parse_response({}, job(model="imagen-4.0-generate-001"))
    assert caught.value.status == 502


# --- Gemini image models -----------------------------------------------------------------


def test_a_gemini_generation_asks_for_text_and_image_output():
    url, body = sent(job(model="gemini-2.5-flash-image", size="1536x1024"))
    assert url == f"{ROOT}/gemini-2.5-flash-image:generateContent"
    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "a red fox in snow"}]}],
        "generationConfig": {
            "responseModalities": ["TEXT", "IMAGE"],
            "imageConfig": {"aspectRatio": "3:2"},  # OpenAI's 1536x1024
        },
    }


def test_gemini_3_image_models_take_2k_and_4k_and_googles_own_names():
    _, body = sent(job(model="gemini-3-pro-image-preview", size="3840x2160"))
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "4K"}
    _, body = sent(job(model="gemini-3-pro-image-preview", aspect_ratio="21:9", image_size="2K"))
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "21:9", "imageSize": "2K"}


def test_an_edit_sends_the_images_before_the_prompt_by_reference_for_the_log():
    image_job = edit([PNG, png_bytes((10, 10), (0, 0, 255))], model="gemini-2.5-flash-image")
    _, body = sent(image_job)
    *images, text = body["contents"][0]["parts"]
    assert text == {"text": "a red fox in snow"}
    assert [base64.b64decode(p["inline_data"]["data"]) for p in images] == [
        img.data for img in image_job.inputs
    ]
    upstream = gemini_images.build_request(image_job, TARGET)
    logged = upstream.sent["contents"][0]["parts"][0]["inline_data"]["data"]
    assert logged is image_job.inputs[0].payload_base64  # the log finds it by identity


@pytest.mark.parametrize(
    ("model", "body", "param", "words"),
    [
        ("gemini-2.5-flash-image", {"n": 2}, "n", "n must be 1"),
        ("gemini-2.5-flash-image", {"output_format": "png"}, "output_format", "leave"),
        ("gemini-2.5-flash-image", {"size": "2048x2048"}, "size", "1K images only"),
        ("gemini-2.5-flash-image", {"size": "512x1536"}, "size", "832x1248"),
        ("gemini-2.5-flash-image", {"aspect_ratio": "7:3"}, "aspect_ratio", "21:9"),
        ("gemini-2.5-flash", {}, "model", "makes no images"),
        ("", {}, "model", "Name a Google image model"),
    ],
)
def test_gemini_refuses_what_it_cannot_make(model, body, param, words):
    error = refused(job(model=model, **body) if model else job(**body))
    assert error.param == param and words in error.message


def test_a_mask_is_refused_gemini_edits_take_none():
    mask = base64.b64encode(png_bytes((32, 24), mode="RGBA")).decode()
    image_job = edit(
        [PNG], model="gemini-2.5-flash-image", mask={"image_url": f"data:image/png;base64,{mask}"}
    )
    assert refused(image_job).param == "mask"


def test_gemini_3_takes_at_most_14_images_and_known_formats():
    assert "at most 14" in refused(edit([PNG] * 15, model="gemini-3-pro-image-preview")).message
    gif = png_bytes((8, 8), fmt="GIF")
    assert "image/gif" in refused(edit([gif], model="gemini-2.5-flash-image")).message


def test_a_gemini_answer_gives_the_image_its_text_and_usage():
    answer = answered(job(model="gemini-2.5-flash-image", size="1344x768"))
    [item] = answer["data"]
    image = base64.b64decode(item["b64_json"])
    assert image.startswith(b"\x89PNG")
    assert item["revised_prompt"] == "I see 0 image(s). You said: a red fox in snow"
    assert answer["output_format"] == "png"
    text = len(item["revised_prompt"].split())
    assert answer["usage"] == {
        "input_tokens": 11,
        "input_tokens_details": {"text_tokens": 11, "image_tokens": 0},
        "output_tokens": text + fake.IMAGE_TOKENS,
        "total_tokens": 11 + text + fake.IMAGE_TOKENS,
        "output_tokens_details": {"text_tokens": text, "image_tokens": fake.IMAGE_TOKENS},
    }


def test_text_is_split_between_the_images_it_comes_with_and_thoughts_are_left_out():
    pixel = base64.b64encode(PNG).decode()
    parts = [
        {"text": "Drafting.", "thought": True},
        {"inlineData": {"mimeType": "image/png", "data": "ZHJhZnQ="}, "thought": True},
        {"text": "First, a fox."},
        {"inlineData": {"mimeType": "image/png", "data": pixel}},
        {"text": "Then "},
        {"text": "its den."},
        {"inlineData": {"mimeType": "image/jpeg", "data": pixel}},
        {"text": "Enjoy!"},
    ]
    usage = {
        "promptTokenCount": 300,
        "candidatesTokenCount": 2600,
        "thoughtsTokenCount": 40,
        "totalTokenCount": 2940,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 42},
            {"modality": "IMAGE", "tokenCount": 258},
        ],
        "candidatesTokensDetails": [
            {"modality": "IMAGE", "tokenCount": 2580},
            {"modality": "TEXT", "tokenCount": 20},
        ],
    }
    data = {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
        "usageMetadata": usage,
    }
    answer = gemini_images.parse_response(data, job(model="gemini-3-pro-image-preview"))
    assert [item["revised_prompt"] for item in answer["data"]] == [
        "First, a fox.",
        "Then its den.\n\nEnjoy!",
    ]
    assert "output_format" not in answer  # a PNG and a JPEG
    assert answer["usage"]["input_tokens_details"] == {"text_tokens": 42, "image_tokens": 258}
    assert answer["usage"]["output_tokens"] == 2640
    assert answer["usage"]["output_tokens_details"] == {"text_tokens": 60, "image_tokens": 2580}


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        ({"promptFeedback": {"blockReason": "SAFETY"}}, 400, "blockReason: SAFETY"),
        (
            {
                "candidates": [
                    {
                        "content": {"parts": [{"text": "I can't draw that."}]},
                        "finishReason": "IMAGE_SAFETY",
                    }
                ]
            },
            400,
            "It said: I can't draw that.",
        ),
        (
            {
                "candidates": [
                    {"content": {"parts": [{"text": "A poem instead."}]}, "finishReason": "STOP"}
                ]
            },
            502,
            "no image",
        ),
    ],
)
def test_an_answer_without_an_image_is_an_error_that_says_why(data, status, words):
    with pytest.raises(GatewayError) as caught:
        gemini_images.parse_response(data, job(model="gemini-2.5-flash-image"))
    assert caught.value.status == status and words in caught.value.message


def test_google_errors_keep_their_meaning():
    content = orjson.dumps(
        {"error": {"code": 404, "message": "models/imagen-3.0 is not found", "status": "NOT_FOUND"}}
    )
    error = gemini_images.parse_error(404, content)
    assert (error.status, error.code, error.type) == (404, "not_found", "not_found_error")
