"""PDFs (chat `file` parts) translated for Gemini and Bedrock, with each provider's limits
checked before sending; the fakes check what arrives the way the providers do."""

import base64
import io
import json
from urllib.parse import urlsplit

import orjson
import pypdfium2
import pytest
from PIL import Image as PILImage

from gateway.chat import Chat, parse_chat
from gateway.errors import GatewayError
from gateway.images import pdfium_lock
from gateway.providers import bedrock, bedrock_media, gemini
from gateway.providers.base import Target
from tests.conftest import png_bytes
from tests.fakes import bedrock as fake_bedrock
from tests.fakes import documents as fake_documents
from tests.fakes import gemini as fake_gemini

GEMINI = Target(provider="google", api_key="AIza-test-key")
BEDROCK = Target(
    "bedrock",
    options={
        "aws-access-key-id": fake_bedrock.ACCESS_KEY_ID,
        "aws-secret-access-key": fake_bedrock.SECRET_ACCESS_KEY,
        "aws-region": fake_bedrock.REGION,
    },
)
CLAUDE = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"


def pdf_bytes(pages: int = 2) -> bytes:
    frames = [PILImage.new("RGB", (60, 40 + 10 * i), (0, 90, 200)) for i in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, "PDF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def blank_pdf(pages: int) -> bytes:
    """Many empty pages, made quickly by PDFium."""
    with pdfium_lock:
        document = pypdfium2.PdfDocument.new()
        for _ in range(pages):
            document.new_page(20, 20)
        out = io.BytesIO()
        document.save(out)
        document.close()
    return out.getvalue()


def file_part(data: bytes, filename: str | None = "report.pdf") -> dict:
    spec = {"file_data": "data:application/pdf;base64," + base64.b64encode(data).decode()}
    return {"type": "file", "file": spec | ({"filename": filename} if filename else {})}


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def make_chat(messages: list, model: str = "gemini-2.5-flash") -> Chat:
    return parse_chat(orjson.dumps({"model": model, "messages": messages}))


def refused(provider, chat: Chat, target: Target) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        provider.build_request(chat, target)
    assert caught.value.status == 400 and caught.value.type == "invalid_request_error"
    return caught.value


# --- Gemini ----------------------------------------------------------------------------


def test_gemini_gets_the_pdf_inline_as_application_pdf():
    pdf = pdf_bytes(3)
    chat = make_chat([{"role": "user", "content": [text("summarise"), file_part(pdf)]}])
    upstream = gemini.build_request(chat, GEMINI)
    body = json.loads(upstream.content)
    checked = fake_gemini.validate(body, chat.model)  # google-genai's types and the rules
    [content] = body["contents"]
    assert content["parts"][0] == {"text": "summarise"}
    inline = content["parts"][1]["inline_data"]
    assert inline["mime_type"] == "application/pdf"
    assert base64.b64decode(inline["data"]) == pdf
    # The log finds the base64 in what was sent by identity (gateway/log/rows.py).
    sent = upstream.sent["contents"][0]["parts"][1]["inline_data"]["data"]
    assert sent is chat.document(0, 1).payload_base64
    answer = fake_gemini.response(chat.model, checked, 1)
    assert answer["candidates"][0]["content"]["parts"][0]["text"] == (
        "I see 0 image(s) and 1 document(s). You said: summarise"
    )


def test_gemini_refuses_a_pdf_of_more_than_1000_pages_naming_the_part():
    pdf = blank_pdf(1001)
    chat = make_chat([{"role": "user", "content": [text("read"), file_part(pdf)]}])
    assert chat.document(0, 1).frames == 1001
    error = refused(gemini, chat, GEMINI)
    assert error.message.startswith("messages[0].content[1]: the PDF has 1001 pages")
    assert "at most 1000" in error.message
    assert (error.param, error.code) == ("messages.0.content.1", "document_too_large")
    # The fake refuses it too, as Gemini does.
    part = {"inlineData": {"mimeType": "application/pdf", "data": base64.b64encode(pdf).decode()}}
    with pytest.raises(fake_gemini.Invalid, match="1001 pages"):
        fake_gemini.validate({"contents": [{"role": "user", "parts": [part]}]}, "gemini-2.5-flash")


def test_gemini_counts_documents_toward_the_inline_data_limit():
    chat = make_chat(
        [{"role": "user", "content": [text("a"), file_part(pdf_bytes(1)), file_part(pdf_bytes(1))]}]
    )
    for j in (1, 2):  # 10.7 MB each once base64-encoded
        chat.document(0, j).data = b"%PDF-1.4\n" + b"\0" * 8_000_000
    error = refused(gemini, chat, GEMINI)
    assert error.code == "request_too_large" and error.param == "messages.0"
    assert "images and documents exceed Gemini's 20 MB" in error.message


def test_the_gemini_fake_refuses_bytes_that_are_no_pdf():
    data = base64.b64encode(b"plain text, not a PDF").decode()
    part = {"inlineData": {"mimeType": "application/pdf", "data": data}}
    with pytest.raises(fake_gemini.Invalid, match="not a valid PDF"):
        fake_gemini.validate({"contents": [{"role": "user", "parts": [part]}]}, "gemini-2.5-flash")


# --- Bedrock ---------------------------------------------------------------------------


def bedrock_body(chat: Chat) -> dict:
    """The Converse body, after the fake Bedrock accepted it (botocore's ParamValidator on the
    service model's DocumentBlock, then the documented rules)."""
    upstream = bedrock.build_request(chat, BEDROCK)
    model_id = urlsplit(upstream.url).path.split("/")[-2]
    fake_bedrock.validate_body(upstream.content, model_id=model_id)
    return orjson.loads(upstream.content)


def test_bedrock_gets_a_document_block_with_a_sanitised_name():
    pdf = pdf_bytes(2)
    chat = make_chat(
        [{"role": "user", "content": [text("summarise"), file_part(pdf, "Q3 report_v2.pdf")]}],
        CLAUDE,
    )
    upstream = bedrock.build_request(chat, BEDROCK)
    body = bedrock_body(chat)
    [message] = body["messages"]
    assert message["content"][0] == {"text": "summarise"}
    document = message["content"][1]["document"]
    assert (document["format"], document["name"]) == ("pdf", "Q3 report v2")
    assert base64.b64decode(document["source"]["bytes"]) == pdf
    sent = upstream.sent["messages"][0]["content"][1]["document"]["source"]["bytes"]
    assert sent is chat.document(0, 1).payload_base64
    checked = fake_bedrock.validate_body(upstream.content, model_id=CLAUDE)
    reply = fake_bedrock.answer(checked)["output"]["message"]["content"][0]["text"]
    assert reply == "I see 0 image(s) and 1 document(s). You said: summarise"


def test_bedrock_documents_get_names_of_their_own():
    pdf = pdf_bytes(1)
    parts = [file_part(pdf, "a.pdf"), file_part(pdf, "a.pdf"), file_part(pdf, None)]
    chat = make_chat([{"role": "user", "content": [text("compare"), *parts]}], CLAUDE)
    blocks = bedrock_body(chat)["messages"][0]["content"][1:]
    assert [b["document"]["name"] for b in blocks] == ["a", "a (2)", "document 3"]


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("Q3 report_final.v2.pdf", "Q3 report final v2"),
        ("../../etc/passwd", "passwd"),
        ("C:\\docs\\a \t\tb.pdf", "a b"),
        ("Résumé (draft) [1].pdf", "Resume (draft) [1]"),
        ("日本語.pdf", "document 1"),
        ("a" * 300 + ".pdf", "a" * 192),
        ({"not": "a string"}, "document 1"),
    ],
)
def test_a_bedrock_document_name_keeps_to_the_allowed_characters(filename, name):
    made = bedrock_media.document_name(filename, 1, set())
    assert made == name
    assert fake_documents._BEDROCK_NAME.fullmatch(made)


def test_bedrock_refuses_a_sixth_document_naming_it():
    parts = [file_part(pdf_bytes(1), f"d{n}.pdf") for n in range(6)]
    chat = make_chat([{"role": "user", "content": [text("read all"), *parts]}], CLAUDE)
    error = refused(bedrock, chat, BEDROCK)
    assert error.message.startswith("messages[0].content[6]: Bedrock takes at most 5 documents")
    assert (error.param, error.code) == ("messages.0.content.6.file", "too_many_documents")


def test_bedrock_refuses_a_document_over_4_5_mb():
    chat = make_chat([{"role": "user", "content": [text("read"), file_part(pdf_bytes(1))]}], CLAUDE)
    chat.document(0, 1).data = b"%PDF-1.4\n" + b"\0" * bedrock_media.MAX_DOCUMENT_BYTES
    error = refused(bedrock, chat, BEDROCK)
    assert error.message.startswith("messages[0].content[1]: the document is 4.50 MB")
    assert "limit is 4.5 MB" in error.message
    assert (error.param, error.code) == ("messages.0.content.1.file", "document_too_large")


def test_bedrock_needs_a_text_part_in_the_message_with_the_document():
    alone = make_chat([{"role": "user", "content": [file_part(pdf_bytes(1))]}], CLAUDE)
    error = refused(bedrock, alone, BEDROCK)
    assert error.message == (
        "messages[0].content[0]: Bedrock needs a text part in the same message as a document."
    )
    assert (error.param, error.code) == ("messages.0.content.0.file", "document_without_text")
    # Consecutive user messages become one Converse message: a text in either will do.
    merged = make_chat(
        [
            {"role": "user", "content": [file_part(pdf_bytes(1))]},
            {"role": "user", "content": "what does it say?"},
        ],
        CLAUDE,
    )
    assert len(bedrock_body(merged)["messages"]) == 1


def test_bedrock_takes_documents_in_user_messages_only():
    chat = make_chat(
        [
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": [text("here"), file_part(pdf_bytes(1))]},
        ],
        CLAUDE,
    )
    error = refused(bedrock, chat, BEDROCK)
    assert error.message == (
        "messages[1].content[1]: Bedrock takes documents in user messages, not assistant."
    )
    assert error.code == "invalid_document_role"


def converse(*content: dict, role: str = "user") -> bytes:
    return json.dumps({"messages": [{"role": role, "content": list(content)}]}).encode()


def document(name: str = "report", data: bytes | None = None) -> dict:
    source = {"bytes": base64.b64encode(pdf_bytes(1) if data is None else data).decode()}
    return {"document": {"format": "pdf", "name": name, "source": source}}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (converse(document()), "must include a text block"),
        (converse({"text": "x"}, *[document(f"d{n}") for n in range(6)]), "Too many documents"),
        (converse({"text": "x"}, document("a_b")), "not allowed"),
        (converse({"text": "x"}, document("a  b")), "not allowed"),
        (converse({"text": "x"}, document(data=b"%PDF-" + b"\0" * 5_000_000)), "4.5 MB"),
        (converse({"text": "x"}, document(data=b"no pdf")), "not a valid PDF"),
        (converse({"text": "x"}, document(name="")), "Invalid length"),
        (converse({"text": "x"}, {"document": {"format": "pdf", "name": "x"}}), "source"),
    ],
)
def test_the_bedrock_fake_refuses_what_bedrock_refuses(body, words):
    with pytest.raises(fake_bedrock.Invalid, match=words) as caught:
        fake_bedrock.validate_body(body, model_id=CLAUDE)
    assert caught.value.name == "ValidationException"


def test_documents_and_images_travel_together_on_both_routes():
    content = [text("compare"), file_part(pdf_bytes(1)), {"type": "image_url", "image_url": {}}]
    content[2]["image_url"]["url"] = (
        "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    )
    parts = bedrock_body(make_chat([{"role": "user", "content": content}], CLAUDE))
    assert [next(iter(b)) for b in parts["messages"][0]["content"]] == ["text", "document", "image"]
    chat = make_chat([{"role": "user", "content": content}])
    body = json.loads(gemini.build_request(chat, GEMINI).content)
    fake_gemini.validate(body, chat.model)
    mimes = [p["inline_data"]["mime_type"] for p in body["contents"][0]["parts"][1:]]
    assert mimes == ["application/pdf", "image/png"]
