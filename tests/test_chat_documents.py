"""PDFs in chat requests (`file` content parts): parsed once, checked, logged as blobs."""

import base64
import io
import json

import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from gateway import log as request_log
from gateway.chat import DECODED_FILE, parse_chat
from gateway.errors import GatewayError
from gateway.log.entry import save_records
from gateway.models import LogImage, RequestLog, blob_name


def pdf_bytes(pages: int = 2) -> bytes:
    frames = [PILImage.new("RGB", (200, 100 + 50 * i), (255, 0, 0)) for i in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, "PDF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def body_with(file: dict, text: str = "summarise") -> bytes:
    content = [{"type": "text", "text": text}, {"type": "file", "file": file}]
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": content}]}).encode()


def data_uri(data: bytes, mime: str = "application/pdf") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_a_pdf_part_is_decoded_once_with_its_page_count():
    pdf = pdf_bytes(3)
    chat = parse_chat(body_with({"file_data": data_uri(pdf), "filename": "report.pdf"}))
    [doc] = chat.documents
    assert (doc.message, doc.part, doc.mime, doc.frames) == (0, 1, "application/pdf", 3)
    assert doc.data == pdf and doc.is_document and chat.images == []
    assert chat.document(0, 1) is doc
    part = chat.body["messages"][0]["content"][1]["file"]
    assert part == {"file_data": DECODED_FILE, "filename": "report.pdf"}


@pytest.mark.parametrize(
    ("file", "words"),
    [
        ({"filename": "x.pdf"}, "file_data (a base64 data URI) is missing"),
        ({"file_data": data_uri(b"%PDF-1.7 but broken")}, "is not a PDF Iris can read"),
        ({"file_data": "data:application/pdf,plain"}, "not base64-encoded"),
    ],
)
def test_a_bad_file_part_is_a_400_naming_it(file, words):
    with pytest.raises(GatewayError) as caught:
        parse_chat(body_with(file))
    assert caught.value.status == 400 and words in caught.value.message
    assert caught.value.param == "messages.0.content.1.file"


@pytest.mark.parametrize(
    "file", [{"file_id": "file-abc"}, {"file_data": data_uri(b"hello, not a pdf", "text/plain")}]
)
def test_a_file_id_or_another_type_goes_on_as_sent_but_no_translator_takes_it(file):
    chat = parse_chat(body_with(file))
    assert chat.documents == []
    assert chat.body["messages"][0]["content"][1]["file"] == file  # kept as sent
    with pytest.raises(GatewayError) as caught:
        chat.document(0, 1)  # what a translating provider asks for
    assert caught.value.status == 400 and caught.value.code == "unsupported_file"
    assert "goes to OpenAI as sent" in caught.value.message


def test_files_count_toward_the_media_limit():
    parts = [{"type": "file", "file": {"file_data": data_uri(pdf_bytes(1))}}] * 3
    raw = json.dumps({"model": "m", "messages": [{"role": "user", "content": parts}]}).encode()
    with pytest.raises(GatewayError, match="Too many images"):
        parse_chat(raw, max_images=2)


@pytest.mark.django_db(transaction=True)
def test_a_pdf_is_logged_as_a_blob_and_referenced_from_the_body(blob_dir):
    pdf = pdf_bytes(2)
    record = request_log.Record(path="/v1/chat/completions", request_headers={})
    record.chat = parse_chat(body_with({"file_data": data_uri(pdf), "filename": "r.pdf"}))
    record.finish(200, {"choices": [{"message": {"content": "two pages"}}]})
    save_records([record])
    log = RequestLog.objects.get()
    row = LogImage.objects.get(log=log)
    assert (row.blob.mime, row.blob.frames, row.blob.size) == ("application/pdf", 2, len(pdf))
    assert log.image_count == 1  # what the list looks up: documents count
    with default_storage.open(blob_name(row.blob_id)) as f:
        assert f.read() == pdf
    kept = log.request_body["messages"][0]["content"][1]["file"]
    assert kept == {"file_data": f"iris-blob:{row.blob_id}", "filename": "r.pdf"}
