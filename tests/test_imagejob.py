"""Parsing an Images API request (gateway/imagejob.py) and OpenAI's per-model limits
(gateway/providers/openai_images.check): the 400s a client gets before any upstream call."""

import base64
import hashlib
import json

import httpx
import pytest

from gateway.errors import GatewayError
from gateway.imagejob import EDITS, GENERATIONS, VARIATIONS, parse_image_job
from gateway.providers import openai_images
from gateway.providers.base import Target
from tests.conftest import png_bytes
from tests.fakes import openai_images as fake_images
from tests.fakes.server import Received

RED = png_bytes((8, 6), (255, 0, 0))
BLUE = png_bytes((5, 5), (0, 0, 255))
MASK = png_bytes((8, 6), mode="RGBA")
BLUE_SHA = hashlib.sha256(BLUE).hexdigest()


def multipart(fields: dict, files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A body as the openai SDK (httpx) encodes it."""
    request = httpx.Request(
        "POST",
        "http://x/",
        data=fields,
        files=[(name, (f"f{i}.png", data, "image/png")) for i, (name, data) in enumerate(files)],
    )
    return request.read(), request.headers["content-type"]


def edit(fields: dict, files: list[tuple[str, bytes]], endpoint: str = EDITS, **kw):
    raw, content_type = multipart({"prompt": "a hat", **fields}, files)
    return parse_image_job(endpoint, raw, content_type, **kw)


def generate(**body):
    return parse_image_job(GENERATIONS, json.dumps(body).encode(), "application/json")


def refused(call, *args, **kwargs) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call(*args, **kwargs)
    assert caught.value.status == 400
    return caught.value


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_a_json_generation():
    job = generate(model="gpt-image-2", prompt="a fox", size="1024x1024", stream=True)
    assert (job.endpoint, job.model, job.prompt, job.n, job.stream) == (
        GENERATIONS,
        "gpt-image-2",
        "a fox",
        1,
        True,
    )
    assert job.images == [] and not job.multipart


def test_a_multipart_edit_with_one_image():
    job = edit(
        {"model": "gpt-image-2", "n": "3", "stream": "true", "partial_images": "2"},
        [("image", RED)],
    )
    assert [img.data for img in job.inputs] == [RED] and job.mask is None
    assert job.body == {
        "model": "gpt-image-2",
        "prompt": "a hat",
        "n": 3,
        "stream": True,
        "partial_images": 2,
    }


def test_a_multipart_edit_with_several_images_and_a_mask():
    job = edit({}, [("image[]", RED), ("image[]", BLUE), ("mask", MASK)])
    assert [(img.role, img.data) for img in job.images] == [
        ("input", RED),
        ("input", BLUE),
        ("mask", MASK),
    ]
    assert [img.part for img in job.images] == [0, 1, 2]
    assert (job.inputs[1].width, job.inputs[1].height) == (5, 5)
    logged = job.logged_body()
    assert logged["image"] == [f"iris-blob:{job.inputs[0].sha256}", f"iris-blob:{BLUE_SHA}"]
    assert logged["mask"] == f"iris-blob:{job.mask.sha256}"


def test_a_non_image_file_is_a_400_naming_the_field():
    error = refused(edit, {}, [("image[]", RED), ("image[]", b"%PDF-1.4 not an image")])
    assert error.param == "image[1]" and error.code == "invalid_image"


def test_a_mask_of_another_size_is_a_400():
    error = refused(edit, {}, [("image", RED), ("mask", png_bytes((7, 6), mode="RGBA"))])
    assert (error.param, error.code) == ("mask", "mask_size_mismatch")
    assert "7×6" in error.message and "8×6" in error.message


def test_a_jpeg_mask_is_a_400():
    error = refused(edit, {}, [("image", RED), ("mask", png_bytes((8, 6), fmt="JPEG"))])
    assert error.param == "mask" and "PNG" in error.message


@pytest.mark.parametrize("n", [0, 11, -1, True, "2", 2.5])
def test_n_out_of_range_or_not_an_integer(n):
    assert refused(generate, prompt="x", n=n).param == "n"


def test_n_in_a_form_must_be_an_integer():
    assert refused(edit, {"n": "two"}, [("image", RED)]).param == "n"
    assert refused(edit, {"n": "11"}, [("image", RED)]).param == "n"


@pytest.mark.parametrize("partial", [-1, 4, "1"])
def test_partial_images_out_of_range(partial):
    assert refused(generate, prompt="x", partial_images=partial).param == "partial_images"


@pytest.mark.parametrize("body", [{}, {"prompt": ""}, {"prompt": "   "}, {"prompt": 3}])
def test_a_prompt_is_required(body):
    assert refused(generate, model="gpt-image-2", **body).param == "prompt"


def test_a_prompt_longer_than_openai_takes():
    assert refused(generate, prompt="x" * 32_001).param == "prompt"


def test_variations_need_no_prompt_and_one_image():
    raw, content_type = multipart({"model": "dall-e-2"}, [("image", BLUE)])
    job = parse_image_job(VARIATIONS, raw, content_type)
    assert job.prompt == "" and len(job.inputs) == 1
    raw, content_type = multipart({}, [("image[]", BLUE), ("image[]", BLUE)])
    assert refused(parse_image_job, VARIATIONS, raw, content_type).param == "image"


def test_an_edit_needs_an_image():
    assert refused(edit, {}, [("mask", MASK)]).param == "image"


def test_a_url_encoded_form_is_a_400_asking_for_multipart():
    raw = b"prompt=x&model=gpt-image-2"
    error = refused(parse_image_job, EDITS, raw, "application/x-www-form-urlencoded")
    assert "multipart/form-data" in error.message


def test_too_many_images():
    assert refused(edit, {}, [("image[]", RED)] * 17).param == "image"
    assert refused(edit, {}, [("image[]", RED)] * 3, max_images=2).param == "image"
    assert len(edit({}, [("image[]", RED)] * 16).inputs) == 16


def test_a_file_field_iris_does_not_take_is_a_400():
    error = refused(edit, {}, [("image", RED), ("markup", MASK)])
    assert error.param == "markup" and error.code == "unsupported_parameter"


def test_a_json_edit_with_image_references():
    body = {
        "model": "gpt-image-2",
        "prompt": "a hat",
        "images": [{"image_url": data_uri(RED)}, {"image_url": "https://example.com/b.png"}],
        "mask": {"image_url": data_uri(MASK)},
    }
    job = parse_image_job(EDITS, json.dumps(body).encode(), "application/json")
    first, second = job.inputs
    assert (first.data, first.origin) == (RED, "base64")
    assert (second.data, second.url) == (None, "https://example.com/b.png")
    assert job.mask.data == MASK and job.mask.part == 2


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"images": [{"file_id": "file-1"}]}, "images[0]"),
        ({"images": [{"image_url": "ftp://x/a.png"}]}, "images[0]"),
        ({"images": [{"image_url": "data:image/png;base64,AAAA"}]}, "images[0]"),
        ({"images": [{"image_url": data_uri(RED)}], "mask": {"image_url": 5}}, "mask"),
        ({"image": [{"image_url": data_uri(RED)}]}, "image"),
        ({"images": {"image_url": data_uri(RED)}}, "images"),
        ({"mask": {"image_url": data_uri(MASK)}}, "images"),
    ],
    ids=[
        "file-id",
        "ftp",
        "broken-data-uri",
        "mask-not-a-url",
        "image-not-images",
        "images-not-an-array",
        "no-images",
    ],
)
def test_bad_json_edits(body, param):
    raw = json.dumps({"prompt": "x", **body}).encode()
    assert refused(parse_image_job, EDITS, raw, "application/json").param == param


@pytest.mark.parametrize("raw", [b"{nope", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object(raw):
    assert refused(parse_image_job, GENERATIONS, raw, "application/json").code == "invalid_json"


def test_set_model_rewrites_the_json_sent_on():
    job = generate(model="@team/gpt-image-2", prompt="x")
    job.set_model("gpt-image-2")
    assert json.loads(job.raw)["model"] == "gpt-image-2"


def test_a_multipart_edit_is_sent_on_as_the_sdk_sends_it():
    job = edit(
        {"model": "gpt-image-2", "n": "2", "stream": "true"},
        [("image[]", RED), ("image[]", BLUE), ("mask", MASK)],
    )
    upstream = openai_images.build_request(
        job, Target("openai", "http://fake/v1", api_key="sk-test")
    )
    assert upstream.url == "http://fake/v1/images/edits"
    assert upstream.headers["authorization"] == "Bearer sk-test"
    assert upstream.headers["accept"] == "text/event-stream"
    sent = Received("POST", "/v1/images/edits", upstream.headers, upstream.content)
    fields, files = fake_images.parse_multipart(sent)
    assert fields == {"model": "gpt-image-2", "prompt": "a hat", "n": 2, "stream": True}
    assert files == {"image[]": [RED, BLUE], "mask": [MASK]}


def test_a_json_generation_is_sent_on_byte_for_byte():
    raw = b'{"prompt": "x",  "model": "gpt-image-2"}'
    job = parse_image_job(GENERATIONS, raw, "application/json")
    upstream = openai_images.build_request(job, Target("openai", api_key="k"))
    assert upstream.url == "https://api.openai.com/v1/images/generations"
    assert upstream.content == raw


def checked(endpoint=GENERATIONS, files=(), **body):
    if endpoint == GENERATIONS:
        job = generate(prompt="x", **body)
    else:
        fields = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in body.items()}
        job = edit(fields, list(files), endpoint=endpoint)
    openai_images.check(job)
    return job


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-image-1.5", "size": "1536x1024", "quality": "high"},
        {"model": "gpt-image-1-mini", "size": "auto", "quality": "low"},
        {"model": "gpt-image-2", "size": "1536x864"},
        {"model": "gpt-image-2", "size": "3840x2160"},
        {"model": "gpt-image-2.5-flare", "quality": "xhigh"},
        {"model": "gpt-image-2.5-sunburst-2026-09-08", "quality": "max"},
        {"model": "chatgpt-image-latest", "size": "1024x1536"},
        {"model": "gpt-image-2", "background": "transparent", "output_format": "webp"},
        {"model": "dall-e-3", "size": "1792x1024", "quality": "hd"},
        {"model": "dall-e-2", "size": "256x256", "n": 10},
        {"model": "some-compatible-model", "size": "999x1"},  # not judged here
    ],
)
def test_sizes_and_qualities_each_model_offers(body):
    checked(**body)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt-image-1.5", "size": "1536x864"}, "size"),
        ({"model": "gpt-image-1.5", "size": "256x256"}, "size"),
        ({"model": "gpt-image-1.5", "quality": "hd"}, "quality"),
        ({"model": "gpt-image-2", "quality": "xhigh"}, "quality"),
        ({"model": "gpt-image-2", "size": "1000x1000"}, "size"),
        ({"model": "gpt-image-2", "size": "3200x800"}, "size"),
        ({"model": "gpt-image-2", "size": "4096x2160"}, "size"),
        ({"model": "gpt-image-2", "size": "big"}, "size"),
        (
            {"model": "gpt-image-2", "background": "transparent", "output_format": "jpeg"},
            "background",
        ),
        ({"model": "gpt-image-2", "output_format": "svg", "n": 2}, "n"),
        ({"model": "gpt-image-2", "output_format": "gif", "stream": True}, "stream"),
        ({"model": "dall-e-3", "size": "1024x1536"}, "size"),
        ({"model": "dall-e-3", "quality": "high"}, "quality"),
        ({"model": "dall-e-3", "n": 2}, "n"),
        ({"model": "dall-e-3", "stream": True}, "stream"),
        ({"model": "dall-e-2", "size": "1024x1792"}, "size"),
    ],
)
def test_what_a_model_does_not_offer_is_a_400(body, param):
    assert refused(checked, **body).param == param


def test_edits_and_variations_by_model():
    square = [("image", BLUE)]
    checked(EDITS, [("image[]", RED)] * 16, model="gpt-image-2")
    checked(VARIATIONS, square, model="dall-e-2", size="512x512")
    checked(VARIATIONS, square)  # dall-e-2 is the default
    assert refused(checked, VARIATIONS, square, model="gpt-image-2").param == "model"
    assert refused(checked, VARIATIONS, [("image", RED)], model="dall-e-2").param == "image"
    assert refused(checked, EDITS, square, model="dall-e-3").param == "model"
    assert refused(checked, EDITS, [("image[]", BLUE)] * 2, model="dall-e-2").param == "image"
    gif_with_mask = [("image", RED), ("mask", MASK)]
    assert refused(checked, EDITS, gif_with_mask, model="gpt-image-2", output_format="gif").param
    mini = {"model": "gpt-image-1-mini", "input_fidelity": "high"}
    assert refused(checked, EDITS, square, **mini).param == "input_fidelity"


def test_json_edits_are_for_gpt_image_models():
    body = {"model": "dall-e-2", "prompt": "x", "images": [{"image_url": data_uri(BLUE)}]}
    job = parse_image_job(EDITS, json.dumps(body).encode(), "application/json")
    assert refused(openai_images.check, job).param == "model"
