"""PDFs (chat `file` parts) on the anthropic route: document blocks, in user turns and tool
results, and Anthropic's limits (pages per request by model, the 32 MB request) checked before
sending. Every body built is also put through the fake Anthropic's validator (the anthropic
SDK's TypedDicts, the PDF opened with PDFium, the same limits), so a translation the real API
would refuse fails here."""

import base64

import orjson
import pytest

from gateway.chat import Chat, parse_chat
from gateway.errors import GatewayError
from gateway.providers import anthropic, anthropic_media
from gateway.providers.base import Target
from tests.conftest import png_bytes
from tests.fakes import anthropic as fake
from tests.fakes.server import Received
from tests.providers.test_documents import blank_pdf, file_part, pdf_bytes, text

TARGET = Target("anthropic", api_key="sk-ant-test")
SHORT_CONTEXT, LONG_CONTEXT = "claude-sonnet-4-5", "claude-sonnet-4-6"


def make_chat(messages: list, model: str = SHORT_CONTEXT) -> Chat:
    return parse_chat(orjson.dumps({"model": model, "messages": messages}))


def user(*parts: dict) -> dict:
    return {"role": "user", "content": list(parts)}


def sent(chat: Chat) -> dict:
    body = orjson.loads(anthropic.build_request(chat, TARGET).content)
    fake.validate(body)
    return body


def refused(chat: Chat) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        anthropic.build_request(chat, TARGET)
    assert (caught.value.status, caught.value.type) == (400, "invalid_request_error")
    return caught.value


def fake_reply(body: dict) -> str:
    return fake.answer(body, fake.validate(body))["content"][0]["text"]


def test_a_pdf_becomes_a_base64_document_block_titled_with_its_filename():
    pdf = pdf_bytes(2)
    chat = make_chat([user(text("summarise"), file_part(pdf, "Q3 report.pdf"))])
    upstream = anthropic.build_request(chat, TARGET)
    body = orjson.loads(upstream.content)
    [turn] = body["messages"]
    assert turn["content"][0] == {"type": "text", "text": "summarise"}
    block = turn["content"][1]
    assert block["type"] == "document" and block["title"] == "Q3 report.pdf"
    assert {k: v for k, v in block["source"].items() if k != "data"} == {
        "type": "base64",
        "media_type": "application/pdf",
    }
    assert base64.b64decode(block["source"]["data"]) == pdf
    # The log finds the base64 in what was sent by identity (gateway/log/rows.py).
    data = upstream.sent["messages"][0]["content"][1]["source"]["data"]
    assert data is chat.document(0, 1).payload_base64
    assert fake_reply(body) == "I see 0 image(s) and 1 document(s). You said: summarise"


@pytest.mark.parametrize("filename", [None, "", "   "])
def test_a_pdf_without_a_usable_filename_has_no_title(filename):
    chat = make_chat([user(text("read"), file_part(pdf_bytes(1), filename))])
    block = sent(chat)["messages"][0]["content"][1]
    assert block["type"] == "document" and "title" not in block


def test_pdfs_and_images_go_in_the_order_sent():
    pdf, png = pdf_bytes(1), png_bytes()
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,"}}
    image["image_url"]["url"] += base64.b64encode(png).decode()
    chat = make_chat([user(file_part(pdf, "a.pdf"), image, file_part(pdf, "b.pdf"), text("?"))])
    body = sent(chat)
    kinds = [block["type"] for block in body["messages"][0]["content"]]
    assert kinds == ["document", "image", "document", "text"]
    assert fake_reply(body) == "I see 1 image(s) and 2 document(s). You said: ?"


def test_a_pdf_in_a_tool_message_goes_inside_the_tool_result():
    pdf = pdf_bytes(2)
    call = {"id": "call_1", "type": "function", "function": {"name": "fetch", "arguments": "{}"}}
    chat = make_chat(
        [
            user(text("get the report")),
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": [text("here"), file_part(pdf)]},
        ]
    )
    body = sent(chat)  # the SDK's ToolResultBlockParam takes document blocks
    [result] = body["messages"][2]["content"]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "call_1"
    assert [block["type"] for block in result["content"]] == ["text", "document"]
    assert base64.b64decode(result["content"][1]["source"]["data"]) == pdf
    assert fake_reply(body) == "Tool said: here I see 1 document(s)."


def test_a_pdf_in_an_assistant_message_is_refused_naming_the_part():
    chat = make_chat(
        [user(text("hi")), {"role": "assistant", "content": [file_part(pdf_bytes(1))]}]
    )
    error = refused(chat)
    assert error.code == "invalid_document_role"
    assert error.param == "messages.1.content.0.file"
    assert error.message.startswith("messages[1].content[0]: Anthropic takes documents in user")


@pytest.mark.parametrize(
    ("model", "limit"),
    [
        ("claude-sonnet-4-6", 600),
        ("claude-opus-4-6", 600),
        ("claude-opus-4-7", 600),
        ("claude-opus-5", 600),
        ("claude-mythos-preview", 600),
        ("claude-sonnet-4-6@20260217", 600),
        ("claude-sonnet-4-5-20250929", 100),
        ("claude-opus-4-5", 100),
        ("claude-opus-4-20250514", 100),
        ("claude-haiku-4-5", 100),
        ("claude-3-5-sonnet-20240620", 100),
        ("my-fine-tune", 100),
    ],
)
def test_the_page_and_image_limit_follows_the_context_window(model, limit):
    assert anthropic_media.media_limit(model) == limit
    assert fake.media_limit(model) == limit  # the fake upstream applies the same rule


def test_100_pages_pass_on_a_200k_model_and_101_are_refused_naming_the_pdf():
    sent(make_chat([user(text("read"), file_part(blank_pdf(100)))]))
    chat = make_chat([user(text("read"), file_part(blank_pdf(60)), file_part(blank_pdf(41)))])
    error = refused(chat)
    assert (error.code, error.param) == ("too_many_pages", "messages.0.content.2.file")
    assert error.message == (
        "messages[0].content[2]: this PDF has 41 pages, the request's PDFs 101; Anthropic "
        "reads at most 100 PDF pages per request on claude-sonnet-4-5 (600 on models with a "
        "1M-token context window)."
    )
    # Without Iris's check the fake refuses it too, as Anthropic would.
    body = sent(make_chat([user(text("read"), file_part(blank_pdf(101)))], LONG_CONTEXT))
    body["model"] = SHORT_CONTEXT
    with pytest.raises(fake.Invalid, match="100 PDF pages"):
        fake.validate(body)


def test_a_1m_context_model_takes_600_pages_and_not_601():
    sent(make_chat([user(text("read"), file_part(blank_pdf(101)))], LONG_CONTEXT))
    sent(make_chat([user(text("read"), file_part(blank_pdf(600)))], LONG_CONTEXT))
    chat = make_chat([user(text("read"), file_part(blank_pdf(601)))], LONG_CONTEXT)
    error = refused(chat)
    assert (error.code, error.param) == ("too_many_pages", "messages.0.content.1.file")
    assert "at most 600 PDF pages per request." in error.message


def test_a_1m_context_model_takes_more_than_100_images():
    tiny = {"type": "image_url", "image_url": {"url": "data:image/png;base64,"}}
    tiny["image_url"]["url"] += base64.b64encode(png_bytes()).decode()
    sent(make_chat([user(*[tiny] * 101)], LONG_CONTEXT))
    error = refused(make_chat([user(*[tiny] * 101)], SHORT_CONTEXT))
    assert (error.code, error.param) == ("too_many_images", "messages.0.content.100.image_url")
    assert "on claude-sonnet-4-5 (600 on models with a 1M-token context window)" in error.message


def test_the_part_that_passes_the_request_size_limit_is_named(monkeypatch):
    small, large = pdf_bytes(1), pdf_bytes(3)
    chat = make_chat([user(text("compare"), file_part(small), file_part(large), text("ok?"))])
    size = len(anthropic.build_request(chat, TARGET).content)
    second = len(base64.b64encode(large))
    monkeypatch.setattr(anthropic_media, "MAX_REQUEST_BYTES", size - second)  # second: over
    error = refused(chat)
    assert (error.code, error.param) == ("request_too_large", "messages.0.content.2.file")
    assert error.message.startswith("messages[0].content[2]: with this part the request is ")
    assert error.message.endswith("over Anthropic's 32 MB request limit.")
    monkeypatch.setattr(anthropic_media, "MAX_REQUEST_BYTES", size)  # exactly at the limit
    anthropic.build_request(chat, TARGET)


def test_a_request_over_32_mb_is_refused_before_sending():
    pdf = pdf_bytes(1) + b"\n%" + b"x" * (25 * 1024 * 1024)  # a comment after %%EOF
    chat = make_chat([user(text("read"), file_part(pdf))])
    error = refused(chat)
    assert (error.code, error.param) == ("request_too_large", "messages.0.content.1.file")
    assert "the request is 33.3 MB" in error.message
    # The fake answers as Anthropic does: 413 request_too_large.
    reply = fake.handle(
        Received(
            "POST",
            "/v1/messages",
            {"x-api-key": "k", "anthropic-version": "2023-06-01"},
            b" " * (32 * 1024 * 1024 + 1),
        )
    )
    assert reply.status == 413
    assert orjson.loads(reply.body)["error"]["type"] == "request_too_large"


def test_text_alone_over_32_mb_is_refused_without_a_part():
    chat = make_chat([user(text("x" * (32 * 1024 * 1024)))])
    error = refused(chat)
    assert (error.code, error.param) == ("request_too_large", None)
    assert error.message.startswith("The request is 32.0 MB, over Anthropic's 32 MB")
