"""Auto-fit over real sockets: with x-iris-image-fit: auto (or a provider's fit_images flag)
the fake upstream receives each image at the size the model would see, and the log keeps the
original and the copy sent (LogImage.blob and sent_blob, both stored)."""

import base64
import hashlib
import io
import json

import httpx
from PIL import Image as PILImage

from gateway.providers import anthropic_vision, gemini_vision
from tests.conftest import SHARED_IMAGES, png_bytes
from tests.fakes import bedrock as fake_bedrock_handler


def photo(size=(2000, 1500)) -> bytes:
    """A photograph as a camera would send it: hubble_deep_field.jpg at `size`, JPEG q90."""
    img = PILImage.open(SHARED_IMAGES / "hubble_deep_field.jpg").convert("RGB").resize(size)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


PHOTO = photo()
SHA = hashlib.sha256(PHOTO).hexdigest()


def uri(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def chat(model: str, *urls: str, detail: str | None = "high") -> dict:
    parts = [{"type": "image_url", "image_url": {"url": u, "detail": detail}} for u in urls]
    content = [{"type": "text", "text": "What is in this image?"}, *parts]
    return {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 50}


def post(iris, path: str, body: dict, **headers: str) -> httpx.Response:
    response = httpx.post(
        f"{iris.url}/v1/{path}",
        json=body,
        headers=iris.headers(**{"authorization": "Bearer sk-test-key", **headers}),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response


def openai_headers(fake_openai, **extra: str) -> dict[str, str]:
    return {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{fake_openai.url}/v1",
        **extra,
    }


def received_image(data_uri: str) -> tuple[bytes, PILImage.Image]:
    data = base64.b64decode(data_uri.partition(",")[2])
    return data, PILImage.open(io.BytesIO(data))


def logged_images(iris, request_id: str) -> list[dict]:
    """Each LogImage's original and sent blob, read from the server's database."""
    iris.log(request_id)  # waits for the writer
    code = f"""
import json
from gateway.models import LogImage
rows = LogImage.objects.filter(log__request_id={request_id!r}).select_related("blob", "sent_blob")
print(json.dumps([
    {{"blob": r.blob_id, "sent": r.sent_blob_id,
      "sent_size": [r.sent_blob.width, r.sent_blob.height, r.sent_blob.size, r.sent_blob.mime]
      if r.sent_blob else None, "seen": [r.seen_width, r.seen_height]}}
    for r in rows
]))
"""
    return json.loads(iris.manage("shell", "-c", code).splitlines()[-1])


def test_openai_gets_the_tiles_size_and_the_log_keeps_both(iris, fake_openai):
    # gpt-4o at detail high: 2000×1500 fits 2048×2048, then 768 px on the short side: 1024×768.
    response = post(
        iris,
        "chat/completions",
        chat("gpt-4o", uri(PHOTO)),
        **openai_headers(fake_openai, **{"x-iris-image-fit": "auto"}),
    )
    sent = fake_openai.last("POST").json()["messages"][0]["content"][1]["image_url"]["url"]
    assert sent.startswith("data:image/jpeg;base64,")
    data, img = received_image(sent)
    assert (img.format, img.size) == ("JPEG", (1024, 768))
    assert len(data) < len(PHOTO) / 2
    header = f"auto; fitted=1/1; bytes={len(PHOTO)}->{len(data)}"
    assert response.headers["x-iris-image-fit"] == header
    [row] = logged_images(iris, response.headers["x-iris-request-id"])
    assert row["blob"] == SHA
    assert row["sent"] == hashlib.sha256(data).hexdigest()
    assert row["sent_size"] == [1024, 768, len(data), "image/jpeg"]
    assert row["seen"] == [1024, 768]
    log = iris.log(response.headers["x-iris-request-id"])
    url = log["upstream_body"]["messages"][0]["content"][1]["image_url"]["url"]
    assert url == f"iris-converted:{SHA}"


def test_off_by_default_and_when_asked(iris, fake_openai):
    for extra in ({}, {"x-iris-image-fit": "off"}):
        response = post(
            iris,
            "chat/completions",
            chat("gpt-4o", uri(PHOTO)),
            **openai_headers(fake_openai, **extra),
        )
        sent = fake_openai.last("POST").json()["messages"][0]["content"][1]["image_url"]["url"]
        assert received_image(sent)[0] == PHOTO
        assert "x-iris-image-fit" not in response.headers
        [row] = logged_images(iris, response.headers["x-iris-request-id"])
        assert (row["blob"], row["sent"]) == (SHA, None)


def test_an_image_no_larger_than_seen_goes_as_it_is(iris, fake_openai):
    small = photo((600, 400))  # under 768 px on its short side: OpenAI sees it whole
    response = post(
        iris,
        "chat/completions",
        chat("gpt-4o", uri(small)),
        **openai_headers(fake_openai, **{"x-iris-image-fit": "auto"}),
    )
    sent = fake_openai.last("POST").json()["messages"][0]["content"][1]["image_url"]["url"]
    assert received_image(sent)[0] == small
    assert (
        response.headers["x-iris-image-fit"]
        == f"auto; fitted=0/1; bytes={len(small)}->{len(small)}"
    )


def test_a_bad_value_is_a_400(iris, fake_openai):
    response = httpx.post(
        f"{iris.url}/v1/chat/completions",
        json=chat("gpt-4o", uri(PHOTO)),
        headers=iris.headers(**openai_headers(fake_openai, **{"x-iris-image-fit": "smaller"})),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_image_fit"


def test_anthropic_gets_its_resized_size(iris, fake_anthropic):
    seen = anthropic_vision.seen("claude-sonnet-4-5", 2000, 1500, None, {})
    assert (seen.width, seen.height) == (
        1270,
        952,
    )  # the 1568-token budget binds before the 1568 px edge
    headers = {
        "x-portkey-provider": "anthropic",
        "x-portkey-custom-host": f"{fake_anthropic.url}/v1",
        "x-iris-image-fit": "auto",
    }
    post(iris, "chat/completions", chat("claude-sonnet-4-5", uri(PHOTO), detail=None), **headers)
    blocks = fake_anthropic.last("POST").json()["messages"][0]["content"]
    [source] = [b["source"] for b in blocks if b["type"] == "image"]
    assert source["media_type"] == "image/jpeg"
    assert PILImage.open(io.BytesIO(base64.b64decode(source["data"]))).size == (1270, 952)


def test_gemini_gets_its_tiles_size(iris, fake_gemini):
    # Gemini 2.x: crop unit floor(1500 / 1.5) = 1000 px, 2×2 tiles each seen at 768 px: the
    # model sees 2000×1500 at 768/1000 = 1536×1152.
    seen = gemini_vision.seen("gemini-2.5-flash", 2000, 1500, None, {})
    assert (seen.width, seen.height) == (1536, 1152)
    headers = {
        "x-portkey-provider": "google",
        "x-portkey-custom-host": fake_gemini.url,
        "x-iris-image-fit": "auto",
    }
    post(iris, "chat/completions", chat("gemini-2.5-flash", uri(PHOTO), detail=None), **headers)
    parts = fake_gemini.last("POST").json()["contents"][0]["parts"]
    [inline] = [p["inline_data"] for p in parts if "inline_data" in p]
    assert PILImage.open(io.BytesIO(base64.b64decode(inline["data"]))).size == (1536, 1152)


def test_a_responses_body_sent_as_is_gets_the_fitted_copy(iris, fake_responses):
    body = {
        "model": "gpt-4o",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is in this image?"},
                    {"type": "input_image", "image_url": uri(PHOTO), "detail": "high"},
                ],
            }
        ],
    }
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{fake_responses.url}/v1",
        "x-iris-image-fit": "auto",
    }
    response = post(iris, "responses", body, **headers)
    part = fake_responses.last("POST").json()["input"][0]["content"][1]
    assert part["detail"] == "high"
    data, img = received_image(part["image_url"])
    assert img.size == (1024, 768)
    [row] = logged_images(iris, response.headers["x-iris-request-id"])
    assert (row["blob"], row["sent"]) == (SHA, hashlib.sha256(data).hexdigest())


def test_a_providers_flag_turns_it_on_and_the_header_off(iris, fake_openai):
    iris.manage(
        "shell",
        "-c",
        f"""
from gateway.models import Provider
Provider.objects.filter(slug="fitted").delete()
p = Provider(slug="fitted", name="fitted", kind="openai", base_url="{fake_openai.url}/v1",
             fit_images=True)
p.set_credential("api_key", "sk-admin-key")
p.save()
""",
    )
    headers = {"x-portkey-provider": "@fitted"}
    post(iris, "chat/completions", chat("gpt-4o", uri(PHOTO)), **headers)
    sent = fake_openai.last("POST").json()["messages"][0]["content"][1]["image_url"]["url"]
    assert received_image(sent)[1].size == (1024, 768)
    post(
        iris,
        "chat/completions",
        chat("gpt-4o", uri(PHOTO)),
        **headers,
        **{"x-iris-image-fit": "off"},
    )
    sent = fake_openai.last("POST").json()["messages"][0]["content"][1]["image_url"]["url"]
    assert received_image(sent)[0] == PHOTO


def test_the_estimate_says_what_would_be_sent(iris, fake_openai):
    response = post(
        iris,
        "estimate",
        chat("gpt-4o", uri(PHOTO)),
        **openai_headers(fake_openai, **{"x-iris-image-fit": "auto"}),
    )
    answer = response.json()
    assert answer["image_fit"] == "auto"
    [item] = answer["images"]
    assert (item["width"], item["bytes"], item["estimated_tokens"]) == (2000, len(PHOTO), 765)
    sent = item["sent"]
    assert (sent["mime"], sent["width"], sent["height"]) == ("image/jpeg", 1024, 768)
    assert 0 < sent["bytes"] < len(PHOTO) / 2


def test_a_translated_responses_request_to_anthropic(iris, fake_anthropic):
    body = {
        "model": "claude-sonnet-4-5",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is in this image?"},
                    {"type": "input_image", "image_url": uri(PHOTO)},
                ],
            }
        ],
    }
    headers = {
        "x-portkey-provider": "anthropic",
        "x-portkey-custom-host": f"{fake_anthropic.url}/v1",
        "x-iris-image-fit": "auto",
    }
    response = post(iris, "responses", body, **headers)
    blocks = fake_anthropic.last("POST").json()["messages"][0]["content"]
    [source] = [b["source"] for b in blocks if b["type"] == "image"]
    assert PILImage.open(io.BytesIO(base64.b64decode(source["data"]))).size == (1270, 952)
    assert response.headers["x-iris-image-fit"].startswith("auto; fitted=1/1; ")


def test_bedrock_gets_claudes_size(iris, fake_bedrock):
    headers = {
        "x-portkey-provider": "bedrock",
        "x-portkey-custom-host": fake_bedrock.url,
        "x-portkey-aws-access-key-id": fake_bedrock_handler.ACCESS_KEY_ID,
        "x-portkey-aws-secret-access-key": fake_bedrock_handler.SECRET_ACCESS_KEY,
        "x-portkey-aws-session-token": fake_bedrock_handler.SESSION_TOKEN,
        "x-portkey-aws-region": fake_bedrock_handler.REGION,
        "x-iris-image-fit": "auto",
    }
    model = "anthropic.claude-sonnet-4-5-20250929-v1:0"  # Claude's rule on Bedrock
    post(iris, "chat/completions", chat(model, uri(PHOTO), detail=None), **headers)
    blocks = fake_bedrock.last("POST").json()["messages"][0]["content"]
    [image] = [b["image"] for b in blocks if "image" in b]
    assert image["format"] == "jpeg"
    size = PILImage.open(io.BytesIO(base64.b64decode(image["source"]["bytes"]))).size
    assert size == (1270, 952)


def test_an_image_too_wide_for_anthropic_goes_once_fitted(iris, fake_anthropic):
    wide = png_bytes(size=(9000, 60), color=(20, 120, 220))  # past Anthropic's 8000 px a side
    headers = {
        "x-portkey-provider": "anthropic",
        "x-portkey-custom-host": f"{fake_anthropic.url}/v1",
    }
    body = chat("claude-sonnet-4-5", uri(wide, "image/png"), detail=None)
    refused = httpx.post(
        f"{iris.url}/v1/chat/completions",
        json=body,
        headers=iris.headers(authorization="Bearer sk-test-key", **headers),
        timeout=60,
    )
    assert refused.status_code == 400 and "8000" in refused.json()["error"]["message"]
    post(iris, "chat/completions", body, **headers, **{"x-iris-image-fit": "auto"})
    blocks = fake_anthropic.last("POST").json()["messages"][0]["content"]
    [source] = [b["source"] for b in blocks if b["type"] == "image"]
    width, height = PILImage.open(io.BytesIO(base64.b64decode(source["data"]))).size
    assert width <= 1568 and height < 60
