"""PDFs through a real Iris: the official openai SDK sends a chat `file` part to the google,
bedrock and openai routes (fake upstreams behind); the log keeps the PDF byte for byte."""

import base64
import io
import json

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from PIL import Image as PILImage

from tests.fakes import bedrock as fake_bedrock_handler

CLAUDE = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
AWS_HEADERS = {
    "x-portkey-aws-access-key-id": fake_bedrock_handler.ACCESS_KEY_ID,
    "x-portkey-aws-secret-access-key": fake_bedrock_handler.SECRET_ACCESS_KEY,
    "x-portkey-aws-region": fake_bedrock_handler.REGION,
}


def pdf_bytes(pages: int) -> bytes:
    frames = [PILImage.new("RGB", (120, 80 + 20 * i), (30, 140, 60)) for i in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, "PDF", save_all=True, append_images=frames[1:])
    return out.getvalue()


PDF = pdf_bytes(3)
PDF_URI = "data:application/pdf;base64," + base64.b64encode(PDF).decode()


def messages(question: str = "What is in the report?", uri: str = PDF_URI) -> list[dict]:
    return [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": question},
                {"type": "file", "file": {"file_data": uri, "filename": "Q3 report_v2.pdf"}},
            ],
        },
    ]


def client(iris, api_key: str, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=iris.url + "/v1",
        api_key=api_key,
        max_retries=0,
        default_headers=iris.headers(**headers),
    )


def gemini_client(iris, fake_gemini) -> openai.OpenAI:
    headers = {"x-portkey-provider": "google", "x-portkey-custom-host": fake_gemini.url}
    return client(iris, "AIza-fake-gemini-key", **headers)


def bedrock_client(iris, fake_bedrock) -> openai.OpenAI:
    headers = {"x-portkey-provider": "bedrock", "x-portkey-custom-host": fake_bedrock.url}
    return client(iris, "unused", **headers, **AWS_HEADERS)


def logged_pdf(iris, request_id: str) -> dict:
    """The log's record of the request, after checking it keeps the PDF byte for byte."""
    log = iris.log(request_id)
    [document] = [item for item in log["images"] if item["mime"] == "application/pdf"]
    assert (document["message_index"], document["part_index"]) == (1, 1)
    assert document["bytes"] == len(PDF) and document["origin"] == "base64"
    stored = httpx.get(document["content_url"], headers=iris.headers())
    assert stored.status_code == 200 and stored.content == PDF
    # The row holds a reference, not the megabytes.
    kept = log["request_body"]["messages"][1]["content"][1]["file"]
    assert kept == {"file_data": f"iris-blob:{document['sha256']}", "filename": "Q3 report_v2.pdf"}
    assert PDF_URI[40:200] not in json.dumps(log)
    return log | {"document": document}


def test_google_gets_the_pdf_inline_and_the_log_keeps_it(iris, fake_gemini):
    raw = gemini_client(iris, fake_gemini).chat.completions.with_raw_response.create(
        model="gemini-2.5-flash", messages=messages()
    )
    completion = ChatCompletion.model_validate(json.loads(raw.content))
    expected = "I see 0 image(s) and 1 document(s). You said: What is in the report?"
    assert completion.choices[0].message.content == expected
    [content] = fake_gemini.last().json()["contents"]
    inline = content["parts"][1]["inline_data"]
    assert inline["mime_type"] == "application/pdf"
    assert base64.b64decode(inline["data"]) == PDF

    log = logged_pdf(iris, raw.headers["x-iris-request-id"])
    assert log["provider"] == "google" and log["status_code"] == 200
    sent = log["upstream_body"]["contents"][0]["parts"][1]["inline_data"]["data"]
    assert sent == f"iris-blob:{log['document']['sha256']}"  # by reference, not a copy


def test_bedrock_streams_a_chat_about_a_pdf_sent_as_a_document_block(iris, fake_bedrock):
    stream = bedrock_client(iris, fake_bedrock).chat.completions.with_raw_response.create(
        model=CLAUDE, messages=messages("Summarise it."), stream=True
    )
    chunks = list(stream.parse())
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.model_dump())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "I see 0 image(s) and 1 document(s). You said: Summarise it."
    sent = fake_bedrock.last()
    assert sent.path.endswith("/converse-stream")
    document = sent.json()["messages"][0]["content"][1]["document"]
    assert (document["format"], document["name"]) == ("pdf", "Q3 report v2")
    assert base64.b64decode(document["source"]["bytes"]) == PDF

    log = logged_pdf(iris, stream.headers["x-iris-request-id"])
    assert log["provider"] == "bedrock" and log["status_code"] == 200
    block = log["upstream_body"]["messages"][0]["content"][1]["document"]
    assert block["source"]["bytes"] == f"iris-blob:{log['document']['sha256']}"


def test_bedrock_refuses_a_document_without_text_before_sending(iris, fake_bedrock):
    before = len(fake_bedrock.received)
    alone = [{"role": "user", "content": messages()[1]["content"][1:]}]
    with pytest.raises(openai.BadRequestError) as caught:
        bedrock_client(iris, fake_bedrock).chat.completions.create(model=CLAUDE, messages=alone)
    error = caught.value.body
    assert error["message"].startswith("messages[0].content[0]: Bedrock needs a text part")
    assert error["param"] == "messages.0.content.0.file"
    assert len(fake_bedrock.received) == before  # nothing went upstream


def test_openai_gets_the_file_part_exactly_as_sent(iris, fake_openai):
    raw = client(
        iris,
        "sk-provider-secret",
        **{"x-portkey-provider": "openai", "x-portkey-custom-host": f"{fake_openai.url}/v1"},
    ).chat.completions.with_raw_response.create(model="gpt-4o", messages=messages())
    ChatCompletion.model_validate(json.loads(raw.content))
    received = fake_openai.last("POST")  # checked against the openai SDK's request types
    part = received.json()["messages"][1]["content"][1]
    assert part == {"type": "file", "file": {"file_data": PDF_URI, "filename": "Q3 report_v2.pdf"}}
    assert PDF_URI.encode() in received.body  # the client's bytes, not re-encoded

    log = logged_pdf(iris, raw.headers["x-iris-request-id"])
    assert log["provider"] == "openai" and log["upstream_body"] is None
