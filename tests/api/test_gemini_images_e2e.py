"""Google's image models through a real Iris: the official openai SDK in front (images.generate,
images.edit, chat.completions), the fake Gemini API behind (tests/fakes/gemini.py), and the log
holding every picture the client got, byte for byte."""

import base64

import httpx
import openai
import pytest
from openai.types import ImagesResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.conftest import SHARED_IMAGES
from tests.fakes import gemini as fake_gemini_handler
from tests.fakes import gemini_imagen

KEY = "AIza-fake-gemini-key"
CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()
COFFEE = (SHARED_IMAGES / "coffee.png").read_bytes()


@pytest.fixture
def client(iris, fake_gemini) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=iris.url + "/v1",
        api_key=KEY,  # sent as Authorization: Bearer; Iris moves it to x-goog-api-key
        max_retries=0,
        default_headers=iris.headers(
            **{"x-portkey-provider": "google", "x-portkey-custom-host": fake_gemini.url}
        ),
    )


def logged_outputs(iris, request_id: str) -> tuple[dict, list[bytes]]:
    """The log record and the bytes of its output images, as the logs API serves them."""
    log = iris.log(request_id)
    blobs = [
        httpx.get(image["content_url"], headers=iris.headers()).raise_for_status().content
        for image in log["output_images"]
    ]
    return log, blobs


def test_imagen_generates_n_images_and_the_log_keeps_each(iris, fake_gemini, client):
    raw = client.images.with_raw_response.generate(
        model="imagen-4.0-generate-001", prompt="a lighthouse at dusk", n=2, size="1408x768"
    )
    answer = raw.parse()
    ImagesResponse.model_validate(answer.model_dump())
    got = [base64.b64decode(item.b64_json) for item in answer.data]
    assert len(got) == 2 and all(image.startswith(b"\x89PNG") for image in got)
    assert answer.output_format == "png"

    sent = fake_gemini.last()
    assert sent.path == "/v1beta/models/imagen-4.0-generate-001:predict"
    assert sent.headers["x-goog-api-key"] == KEY and "authorization" not in sent.headers
    assert sent.json()["parameters"] == {
        "sampleCount": 2,
        "includeRaiReason": True,
        "aspectRatio": "16:9",
    }

    log, blobs = logged_outputs(iris, raw.headers["x-iris-request-id"])
    assert (log["endpoint"], log["provider"], log["status_code"]) == (
        "images.generations",
        "google",
        200,
    )
    assert blobs == got
    assert [image["index"] for image in log["output_images"]] == [0, 1]
    assert [image["width"] for image in log["output_images"]] == [114, 114]  # 16:9, 64 high
    assert KEY not in str(log)


def test_a_gemini_image_model_edits_several_images_and_says_what_it_did(iris, fake_gemini, client):
    raw = client.images.with_raw_response.edit(
        model="gemini-2.5-flash-image",
        image=[("cat.png", CAT, "image/png"), ("coffee.png", COFFEE, "image/png")],
        prompt="put the cat next to the coffee",
        size="1024x1024",
    )
    answer = raw.parse()
    [item] = answer.data
    got = base64.b64decode(item.b64_json)
    assert item.revised_prompt == "I see 2 image(s). You said: put the cat next to the coffee"
    assert answer.usage.output_tokens_details.image_tokens == fake_gemini_handler.IMAGE_TOKENS
    assert answer.usage.input_tokens_details.image_tokens == 2 * 258

    body = fake_gemini.last().json()
    *images, text = body["contents"][0]["parts"]
    assert [base64.b64decode(p["inline_data"]["data"]) for p in images] == [CAT, COFFEE]
    assert text == {"text": "put the cat next to the coffee"}
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "1:1"}

    log, blobs = logged_outputs(iris, raw.headers["x-iris-request-id"])
    assert log["endpoint"] == "images.edits"
    assert blobs == [got]
    assert log["output_images"][0]["revised_prompt"] == item.revised_prompt
    assert [image["bytes"] for image in log["images"]] == [len(CAT), len(COFFEE)]


def test_a_stream_is_made_from_the_whole_answer(iris, client):
    raw = client.images.with_raw_response.generate(
        model="gemini-2.5-flash-image", prompt="a kite", stream=True
    )
    [event] = list(raw.parse())
    assert event.type == "image_generation.completed"
    assert base64.b64decode(event.b64_json).startswith(b"\x89PNG")
    details = event.usage.model_dump()["output_tokens_details"]  # not in this event's type
    assert details["image_tokens"] == fake_gemini_handler.IMAGE_TOKENS
    log, blobs = logged_outputs(iris, raw.headers["x-iris-request-id"])
    assert log["is_stream"] is True and blobs == [base64.b64decode(event.b64_json)]


def test_what_google_cannot_make_is_refused_before_any_upstream_call(fake_gemini, client):
    before = len(fake_gemini.received)
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="gemini-2.5-flash-image", prompt="two kites", n=2)
    assert caught.value.body["param"] == "n" and "n must be 1" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="imagen-4.0-generate-001", prompt="a kite", size="1536x1024")
    assert "1:1, 3:4, 4:3, 9:16, 16:9" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.edit(
            model="imagen-4.0-generate-001", image=("cat.png", CAT, "image/png"), prompt="hat"
        )
    assert "Vertex AI" in caught.value.body["message"]
    assert len(fake_gemini.received) == before


def test_withheld_images_are_an_error_that_says_why(iris, client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.with_raw_response.generate(model="imagen-filter-all", prompt="x", n=2)
    assert caught.value.body["code"] == "content_filter"
    assert gemini_imagen.FILTERED in caught.value.body["message"]


# --- pictures in chat replies ------------------------------------------------------------


def test_a_chat_reply_carries_its_picture_in_message_images(iris, fake_gemini, client):
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash-image",
        messages=[{"role": "user", "content": "draw a fox"}],
        extra_body={"modalities": ["text", "image"], "image_config": {"aspect_ratio": "3:2"}},
    )
    completion = raw.parse()
    ChatCompletion.model_validate(completion.model_dump())
    message = completion.choices[0].message
    assert message.content == "I see 0 image(s). You said: draw a fox"
    [picture] = message.model_extra["images"]
    assert (picture["type"], picture["index"]) == ("image_url", 0)
    got = base64.b64decode(picture["image_url"]["url"].removeprefix("data:image/png;base64,"))
    assert got.startswith(b"\x89PNG")
    config = fake_gemini.last().json()["generationConfig"]
    assert config == {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "3:2"},
    }

    log, blobs = logged_outputs(iris, raw.headers["x-iris-request-id"])
    assert log["endpoint"] == "chat.completions"
    assert blobs == [got]
    assert log["output_images"][0]["width"] == 96  # 3:2, 64 high


def test_a_streamed_reply_carries_its_picture_in_delta_images(iris, client):
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash-image",
        messages=[{"role": "user", "content": "draw a fox"}],
        stream=True,
        extra_body={"modalities": ["text", "image"]},
    )
    chunks = list(raw.parse())
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.model_dump())
    pictures = [
        picture
        for chunk in chunks
        for picture in (chunk.choices[0].delta.model_extra or {}).get("images") or ()
    ]
    [picture] = pictures
    got = base64.b64decode(picture["image_url"]["url"].split(",", 1)[1])
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "I see 0 image(s). You said: draw a fox"

    log, blobs = logged_outputs(iris, raw.headers["x-iris-request-id"])
    assert log["is_stream"] is True and blobs == [got]
    assert log["response_body"]["choices"][0]["message"]["content"] == text
