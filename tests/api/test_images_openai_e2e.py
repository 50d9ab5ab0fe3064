"""The Images API through a real Iris to a fake OpenAI (tests/fakes/openai_images.py, which
checks each body against the `openai` SDK's own params), with the official `openai` and
`portkey-ai` SDKs over real sockets. The log keeps every output byte for byte."""

import base64
import io
import json

import httpx
import openai
import pytest
from openai.types import ImageEditStreamEvent, ImageGenStreamEvent, ImagesResponse
from PIL import Image as PILImage
from portkey_ai import Portkey, createHeaders
from pydantic import TypeAdapter

from tests.conftest import SHARED_IMAGES, png_bytes
from tests.fakes import openai_images as fake_images

# The SDK marks images.create_variation deprecated (dall-e-2 is retired at OpenAI); Iris
# still serves it for compatible upstreams.
pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")
CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()  # 451x300 PNG
GEN_EVENT = TypeAdapter(ImageGenStreamEvent)
EDIT_EVENT = TypeAdapter(ImageEditStreamEvent)


def mask_for(width: int, height: int) -> bytes:
    """A PNG mask: transparent where the edit goes (the left half)."""
    mask = PILImage.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def client(iris, fake_openai) -> openai.OpenAI:
    headers = createHeaders(
        provider="openai", api_key=iris.key, custom_host=f"{fake_openai.url}/v1"
    )
    return openai.OpenAI(
        base_url=f"{iris.url}/v1",
        api_key="sk-provider-secret",
        default_headers=headers,
        max_retries=0,
    )


def openai_headers(iris, fake_openai) -> dict[str, str]:
    return iris.headers(
        **{
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"{fake_openai.url}/v1",
            "authorization": "Bearer sk-provider-secret",
        }
    )


def posts(fake_openai) -> list:
    return [r for r in fake_openai.received if r.method == "POST"]


def stored(iris, image: dict) -> bytes:
    response = httpx.get(image["content_url"], headers=iris.headers())
    response.raise_for_status()
    return response.content


def finals(log: dict) -> list[dict]:
    return [img for img in log["output_images"] if not img["partial"]]


def test_generate_with_a_gpt_image_model_keeps_each_image_byte_for_byte(client, iris, fake_openai):
    raw = client.images.with_raw_response.generate(
        model="gpt-image-2.5-flare",
        prompt="a lighthouse at dusk",
        n=2,
        size="1024x1536",
        quality="high",
        output_format="png",
    )
    result = raw.parse()
    ImagesResponse.model_validate(result.model_dump())
    received = [base64.b64decode(item.b64_json) for item in result.data]
    assert len(received) == 2 and received[0] != received[1]
    assert PILImage.open(io.BytesIO(received[0])).size == (1024, 1536)
    assert result.usage.input_tokens_details.text_tokens == 4
    sent = fake_openai.last("POST")
    assert sent.path == "/v1/images/generations"
    assert sent.headers["authorization"] == "Bearer sk-provider-secret"
    assert sent.json()["n"] == 2 and "response_format" not in sent.json()

    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["endpoint"] == "images.generations" and log["status_code"] == 200
    assert log["model"] == "gpt-image-2.5-flare" and log["output_image_count"] == 2
    outputs = finals(log)
    assert [img["index"] for img in outputs] == [0, 1]
    assert [stored(iris, img) for img in outputs] == received
    assert (outputs[0]["mime"], outputs[0]["width"], outputs[0]["height"]) == (
        "image/png",
        1024,
        1536,
    )
    # The row keeps references, not megabytes of base64.
    assert all(
        item["b64_json"] == f"iris-blob:{img['sha256']}"
        for item, img in zip(log["response_body"]["data"], outputs, strict=True)
    )
    assert log["response_body"]["usage"]["output_tokens"] == 544
    assert (log["prompt_tokens"], log["completion_tokens"]) == (4, 544)
    assert "sk-provider-secret" not in json.dumps(log)


def test_dall_e_3_url_answers_are_fetched_and_kept_at_once(client, iris, fake_openai):
    raw = client.images.with_raw_response.generate(
        model="dall-e-3", prompt="an owl", size="1792x1024", response_format="url"
    )
    result = raw.parse()
    [item] = result.data
    assert item.url.startswith(f"{fake_openai.url}/generated/")
    assert item.revised_prompt == "A detailed picture: an owl"
    served = httpx.get(item.url).content
    log = iris.log(raw.headers["x-iris-request-id"])
    [kept] = log["output_images"]
    assert stored(iris, kept) == served
    assert (kept["width"], kept["height"]) == (1792, 1024)
    assert kept["revised_prompt"] == log["revised_prompt"] == "A detailed picture: an owl"


def test_edit_with_several_images_and_a_mask(client, iris, fake_openai):
    second = png_bytes(size=(64, 48), color=(10, 200, 30))
    raw = client.images.with_raw_response.edit(
        model="gpt-image-2",
        image=[("cat.png", CAT, "image/png"), ("green.png", second, "image/png")],
        mask=("mask.png", mask_for(451, 300), "image/png"),
        prompt="give the cat a hat",
        n=2,
        quality="low",
        output_format="webp",
    )
    result = raw.parse()
    received = [base64.b64decode(item.b64_json) for item in result.data]
    assert PILImage.open(io.BytesIO(received[0])).format == "WEBP"
    fields, files = fake_images.parse_multipart(fake_openai.last("POST"))
    assert files["image[]"] == [CAT, second] and files["mask"] == [mask_for(451, 300)]
    assert fields == {
        "model": "gpt-image-2",
        "prompt": "give the cat a hat",
        "n": 2,
        "quality": "low",
        "output_format": "webp",
    }

    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["endpoint"] == "images.edits"
    assert [img["role"] for img in log["images"]] == ["input", "input", "mask"]
    assert [stored(iris, img) for img in log["images"]] == [CAT, second, mask_for(451, 300)]
    assert [stored(iris, img) for img in finals(log)] == received
    assert log["request_body"]["image"] == [
        f"iris-blob:{img['sha256']}" for img in log["images"][:2]
    ]
    assert log["request_body"]["mask"] == f"iris-blob:{log['images'][2]['sha256']}"


def test_a_single_image_edit_goes_as_one_image_field(client, fake_openai):
    client.images.edit(
        model="gpt-image-1.5", image=("cat.png", CAT), prompt="one hat", input_fidelity="high"
    )
    fields, files = fake_images.parse_multipart(fake_openai.last("POST"))
    assert files == {"image": [CAT]} and fields["input_fidelity"] == "high"


def test_json_edits_with_image_urls(iris, fake_openai):
    cat_url = f"{fake_openai.url}/images/chelsea.png"
    data_uri = "data:image/png;base64," + base64.b64encode(mask_for(451, 300)).decode()
    response = httpx.post(
        f"{iris.url}/v1/images/edits",
        headers=openai_headers(iris, fake_openai),
        json={
            "model": "gpt-image-2",
            "prompt": "a hat",
            "images": [{"image_url": cat_url}],
            "mask": {"image_url": data_uri},
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    sent = fake_openai.last("POST").json()
    assert sent["images"] == [{"image_url": cat_url}]
    log = iris.log(response.headers["x-iris-request-id"])
    assert [stored(iris, img) for img in log["images"]] == [CAT, mask_for(451, 300)]
    [out] = finals(log)
    assert stored(iris, out) == base64.b64decode(response.json()["data"][0]["b64_json"])


def test_variation_with_dall_e_2(client, iris, fake_openai):
    square = png_bytes(size=(32, 32), color=(0, 0, 255))
    raw = client.images.with_raw_response.create_variation(
        model="dall-e-2", image=("sq.png", square), n=2, size="256x256", response_format="b64_json"
    )
    result = raw.parse()
    received = [base64.b64decode(item.b64_json) for item in result.data]
    assert PILImage.open(io.BytesIO(received[1])).size == (256, 256)
    _, files = fake_images.parse_multipart(fake_openai.last("POST"))
    assert files == {"image": [square]}
    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["endpoint"] == "images.variations"
    assert [stored(iris, img) for img in finals(log)] == received


def test_variation_with_a_gpt_image_model_is_a_clear_400(client, iris, fake_openai):
    before = len(posts(fake_openai))
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.create_variation(model="gpt-image-2", image=("sq.png", png_bytes((8, 8))))
    assert "only made by dall-e-2" in caught.value.body["message"]
    assert caught.value.body["param"] == "model"
    assert len(posts(fake_openai)) == before


def test_streaming_generation_relays_partial_images_and_keeps_them(client, iris, fake_openai):
    stream = client.images.with_raw_response.generate(
        model="gpt-image-2",
        prompt="a fox",
        size="1024x1024",
        stream=True,
        partial_images=2,
    )
    request_id = stream.headers["x-iris-request-id"]
    events = list(stream.parse())
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    for event in events:  # the SDK's typed events, and valid against them
        GEN_EVENT.validate_python(event.model_dump())
    assert events[-1].usage.output_tokens == 272

    log = iris.log(request_id)
    assert log["is_stream"] and log["endpoint"] == "images.generations"
    [final] = finals(log)
    assert stored(iris, final) == base64.b64decode(events[-1].b64_json)
    partials = [img for img in log["output_images"] if img["partial"]]
    assert [img["partial_index"] for img in partials] == [0, 1]
    assert [stored(iris, img) for img in partials] == [
        base64.b64decode(e.b64_json) for e in events[:2]
    ]


def test_streaming_edit_relays_image_edit_events(client, iris, fake_openai):
    stream = client.images.with_raw_response.edit(
        model="gpt-image-2",
        image=[("cat.png", CAT), ("cat2.png", CAT)],
        mask=("mask.png", mask_for(451, 300)),
        prompt="a crown",
        stream=True,
        partial_images=1,
    )
    request_id = stream.headers["x-iris-request-id"]
    events = list(stream.parse())
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    for event in events:
        EDIT_EVENT.validate_python(event.model_dump())
    fields, _ = fake_images.parse_multipart(fake_openai.last("POST"))
    assert fields["stream"] is True and fields["partial_images"] == 1
    log = iris.log(request_id)
    [final] = finals(log)
    assert stored(iris, final) == base64.b64decode(events[-1].b64_json)
    [partial] = [img for img in log["output_images"] if img["partial"]]
    assert stored(iris, partial) == base64.b64decode(events[0].b64_json)


def test_partial_images_reach_the_client_while_upstream_is_still_working(iris, fake_openai):
    """Unbuffered: the partial image arrives while the fake holds back the completed event."""
    fake_images.RELEASE.clear()
    body = {"model": "gpt-image-2", "prompt": "[hold]", "stream": True, "partial_images": 1}
    url = f"{iris.url}/v1/images/generations"
    with httpx.stream(
        "POST", url, headers=openai_headers(iris, fake_openai), json=body, timeout=30
    ) as response:
        lines = response.iter_lines()
        assert next(lines) == "event: image_generation.partial_image"
        assert json.loads(next(lines).removeprefix("data: "))["partial_image_index"] == 0
        fake_images.RELEASE.set()  # only now may the upstream finish
        rest = list(lines)
    assert "event: image_generation.completed" in rest


def test_the_stream_has_no_done_marker(iris, fake_openai):
    with httpx.stream(
        "POST",
        f"{iris.url}/v1/images/generations",
        headers=openai_headers(iris, fake_openai),
        json={"model": "gpt-image-2", "prompt": "x", "stream": True, "size": "1024x1024"},
        timeout=30,
    ) as response:
        text = response.read().decode()
    assert text.startswith("event: image_generation.completed\ndata: {")
    assert "[DONE]" not in text


def test_a_stream_cut_short_ends_in_an_error_and_keeps_the_partial(client, iris):
    stream = client.images.with_raw_response.generate(
        model="gpt-image-2", prompt="[die]", stream=True, partial_images=2
    )
    events = []
    with pytest.raises(openai.APIError) as caught:  # the SDK raises on the error event
        events.extend(stream.parse())
    assert "Upstream" in caught.value.message
    assert [e.type for e in events] == ["image_generation.partial_image"]
    log = iris.log(stream.headers["x-iris-request-id"])
    assert log["error_type"]
    [partial] = log["output_images"]
    assert partial["partial"] and partial["partial_index"] == 0
    assert stored(iris, partial) == base64.b64decode(events[0].b64_json)


def test_portkey_sdk_generates(iris, fake_openai):
    portkey = Portkey(
        api_key=iris.key,
        base_url=f"{iris.url}/v1",
        provider="openai",
        Authorization="Bearer sk-provider-secret",
        custom_host=f"{fake_openai.url}/v1",
        trace_id="trace-images",
    )
    result = portkey.images.generate(model="gpt-image-2", prompt="a kite", size="1024x1024")
    received = base64.b64decode(result.data[0].b64_json)
    [row] = iris.find_logs(trace_id="trace-images")
    log = iris.log(row["request_id"])
    assert [stored(iris, img) for img in finals(log)] == [received]


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (
            lambda c: c.images.edit(
                model="gpt-image-2",
                image=("cat.png", CAT),
                mask=("mask.png", mask_for(10, 10)),
                prompt="x",
            ),
            "mask",
        ),
        (
            lambda c: c.images.edit(
                model="gpt-image-2", image=[("a.png", png_bytes())] * 17, prompt="x"
            ),
            "image",
        ),
        (
            lambda c: c.images.generate(model="gpt-image-1.5", prompt="x", size="1792x1024"),
            "size",
        ),
        (lambda c: c.images.generate(model="dall-e-3", prompt="x", quality="low"), "quality"),
        (lambda c: c.images.generate(model="gpt-image-2", prompt="x", n=11), "n"),
        (
            lambda c: c.images.edit(
                model="gpt-image-2", image=("notes.txt", b"hello", "text/plain"), prompt="x"
            ),
            "image[0]",
        ),
        (
            lambda c: c.images.generate(model="dall-e-3", prompt="x", stream=True),
            "stream",
        ),
        (
            lambda c: c.images.generate(
                model="gpt-image-2", prompt="x", background="transparent", output_format="jpeg"
            ),
            "background",
        ),
        (
            lambda c: c.images.edit(
                model="gpt-image-2.5-flare",
                image=("cat.png", CAT),
                markup=("m.png", mask_for(451, 300)),
                prompt="x",
            ),
            "markup",
        ),
        (
            lambda c: c.images.create_variation(
                model="dall-e-2", image=("wide.png", png_bytes((16, 8)))
            ),
            "image",
        ),
    ],
    ids=[
        "mask-size",
        "17-images",
        "size",
        "quality",
        "n",
        "not-an-image",
        "dall-e-stream",
        "transparent-jpeg",
        "markup",
        "non-square-variation",
    ],
)
def test_bad_input_is_a_400_before_any_upstream_call(client, iris, fake_openai, call, param):
    before = len(posts(fake_openai))
    with pytest.raises(openai.BadRequestError) as caught:
        call(client)
    assert caught.value.body["param"] == param
    assert len(posts(fake_openai)) == before  # OpenAI was never called
    log = iris.log(caught.value.response.headers["x-iris-request-id"])
    assert log["status_code"] == 400 and log["endpoint"].startswith("images.")


def test_a_json_edit_naming_image_not_images_is_a_400(iris, fake_openai):
    before = len(posts(fake_openai))
    response = httpx.post(
        f"{iris.url}/v1/images/edits",
        headers=openai_headers(iris, fake_openai),
        json={"model": "gpt-image-2", "prompt": "x", "image": [{"image_url": "https://x/a.png"}]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "image"
    assert "'images'" in response.json()["error"]["message"]
    assert len(posts(fake_openai)) == before


def test_upstream_errors_pass_through(client, iris):
    with pytest.raises(openai.RateLimitError):
        client.images.generate(model="gpt-image-2", prompt="[fail-429]")


def test_unknown_paths_and_wrong_methods_answer_json(iris):
    response = httpx.post(f"{iris.url}/v1/foo", headers=iris.headers())
    assert response.status_code == 404
    assert "/v1/images/generations" in response.json()["error"]["message"]
    response = httpx.get(f"{iris.url}/v1/images/generations", headers=iris.headers())
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_anthropic_has_no_image_generation(iris):
    client = openai.OpenAI(
        base_url=f"{iris.url}/v1",
        api_key="sk-ant-x",
        default_headers=iris.headers(**{"x-portkey-provider": "anthropic"}),
        max_retries=0,
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="claude-opus-4", prompt="x")
    message = caught.value.body["message"]
    assert "anthropic provider has no image generations endpoint" in message
    assert "Providers that do: openai" in message
