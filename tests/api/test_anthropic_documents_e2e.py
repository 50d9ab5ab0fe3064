"""PDFs on the anthropic route through a real Iris: the official openai SDK sends a chat with a
`file` part and an image; the fake Anthropic (the anthropic SDK's types, the PDF opened with
PDFium) gets a document block holding the same bytes, and the log keeps the PDF byte for byte.
A PDF over the page limit is refused before anything is sent, and the refusal is logged."""

import base64
import io
import json

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from PIL import Image as PILImage

from tests.conftest import SHARED_IMAGES

MODEL = "claude-sonnet-4-5"  # a 200k-token context window: 100 PDF pages per request
CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()


def pdf_bytes(pages: int) -> bytes:
    frames = [PILImage.new("RGB", (120, 80 + 20 * i), (140, 40, 60)) for i in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, "PDF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


PDF = pdf_bytes(2)


def messages(question: str, pdf: bytes = PDF) -> list[dict]:
    file = {"file_data": data_uri(pdf, "application/pdf"), "filename": "minutes.pdf"}
    return [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": question},
                {"type": "file", "file": file},
                {"type": "image_url", "image_url": {"url": data_uri(CAT, "image/png")}},
            ],
        },
    ]


@pytest.fixture
def client(iris, fake_anthropic) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{iris.url}/v1",
        api_key="sk-ant-secret",
        max_retries=0,
        default_headers=iris.headers(
            **{
                "x-portkey-provider": "anthropic",
                "x-portkey-custom-host": f"{fake_anthropic.url}/v1",
            }
        ),
    )


def received_blocks(fake_anthropic) -> list[dict]:
    body = fake_anthropic.last("POST").json()
    assert body["system"] == [{"type": "text", "text": "Be brief."}]
    [turn] = body["messages"]
    assert [block["type"] for block in turn["content"]] == ["text", "document", "image"]
    return turn["content"]


def check_log(iris, request_id: str) -> dict:
    """The log's record: the PDF and the image kept as blobs, the PDF byte for byte."""
    log = iris.log(request_id)
    assert log["provider"] == "anthropic" and log["status_code"] == 200
    by_mime = {item["mime"]: item for item in log["images"]}
    document = by_mime["application/pdf"]
    assert (document["message_index"], document["part_index"]) == (1, 1)
    assert document["bytes"] == len(PDF) and document["origin"] == "base64"
    stored = httpx.get(document["content_url"], headers=iris.headers())
    assert stored.status_code == 200 and stored.content == PDF
    assert (by_mime["image/png"]["message_index"], by_mime["image/png"]["part_index"]) == (1, 2)
    # What went upstream holds a reference to the blob, not the base64 again.
    block = log["upstream_body"]["messages"][0]["content"][1]
    assert block["source"]["data"] == f"iris-blob:{document['sha256']}"
    assert base64.b64encode(PDF).decode()[40:200] not in json.dumps(log)
    return log


def test_a_pdf_and_an_image_reach_claude_and_the_log_keeps_the_pdf(client, iris, fake_anthropic):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=messages("What was decided?")
    )
    completion = ChatCompletion.model_validate(json.loads(raw.content))
    expected = "I see 1 image(s) and 1 document(s). You said: What was decided?"
    assert completion.choices[0].message.content == expected
    document = received_blocks(fake_anthropic)[1]
    assert document["title"] == "minutes.pdf"
    assert document["source"]["media_type"] == "application/pdf"
    assert base64.b64decode(document["source"]["data"]) == PDF  # byte-identical
    check_log(iris, raw.headers["x-iris-request-id"])


def test_a_streamed_chat_about_a_pdf(client, iris, fake_anthropic):
    stream = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=messages("Summarise it."), stream=True
    )
    chunks = list(stream.parse())
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.model_dump())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "I see 1 image(s) and 1 document(s). You said: Summarise it."
    assert fake_anthropic.last("POST").json()["stream"] is True
    document = received_blocks(fake_anthropic)[1]
    assert base64.b64decode(document["source"]["data"]) == PDF
    log = check_log(iris, stream.headers["x-iris-request-id"])
    assert log["response_body"]["choices"][0]["message"]["content"] == text


def test_a_pdf_over_the_page_limit_is_refused_naming_the_part_and_logged(
    client, iris, fake_anthropic
):
    before, long_pdf = len(fake_anthropic.received), pdf_bytes(101)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=messages("Read.", long_pdf))
    error = caught.value.body
    assert error["param"] == "messages.1.content.1.file"
    assert error["code"] == "too_many_pages"
    assert error["message"].startswith("messages[1].content[1]: this PDF has 101 pages")
    assert "at most 100 PDF pages per request on claude-sonnet-4-5" in error["message"]
    assert len(fake_anthropic.received) == before  # nothing went upstream

    log = iris.log(caught.value.response.headers["x-iris-request-id"])
    assert log["status_code"] == 400 and log["provider"] == "anthropic"
    assert "101 pages" in json.dumps(log["response_body"])
    [document] = [item for item in log["images"] if item["mime"] == "application/pdf"]
    stored = httpx.get(document["content_url"], headers=iris.headers())
    assert stored.content == long_pdf  # the refused PDF is kept too
