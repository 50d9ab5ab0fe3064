"""What the fake upstreams check of the documents (PDFs) sent to them."""

import re

import pypdfium2

from gateway.images import pdfium_lock


def pdf_pages(data: bytes) -> int | None:
    """A PDF's page count, or None if PDFium cannot open the bytes."""
    with pdfium_lock:  # PDFium is not thread-safe: Iris's own lock, shared in pure tests
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError:
            return None
        try:
            return len(document)
        finally:
            document.close()


def pdf_problem(data: bytes, max_pages: int) -> str | None:
    """Why a provider would refuse these bytes as a PDF of at most max_pages pages."""
    if b"%PDF-" not in data[:1024]:  # where PDF readers look for the header
        return "The document is not a valid PDF."
    pages = pdf_pages(data)
    if pages is None:
        return "The document has no pages or could not be read."
    if pages > max_pages:
        return f"The document has {pages} pages; at most {max_pages} are supported."
    return None


# Bedrock Converse (API reference, Message.content and DocumentBlock, read 2026-11).
BEDROCK_MAX_DOCUMENTS = 5
BEDROCK_MAX_DOCUMENT_BYTES = int(4.5 * 1024 * 1024)
# Alphanumerics, hyphens, parentheses, square brackets, whitespace never twice in a row.
_BEDROCK_NAME = re.compile(r"(?:[A-Za-z0-9()\[\]-]|\s(?!\s)){1,200}")


def bedrock_problem(messages: list[dict]) -> str | None:
    """The ValidationException Bedrock answers for the documents of these Converse messages
    (their blobs already decoded to bytes), or None."""
    count = 0
    for n, message in enumerate(messages):
        blocks = [b["document"] for b in message["content"] if "document" in b]
        count += len(blocks)
        if blocks and message["role"] != "user":
            return f"messages.{n}: documents are only allowed in user messages."
        if blocks and not any(b.get("text", "").strip() for b in message["content"]):
            return (
                f"messages.{n}: A conversation must include a text block when a document "
                "block is included."
            )
        for document in blocks:
            data, name = document["source"].get("bytes", b""), document["name"]
            if not _BEDROCK_NAME.fullmatch(name):
                return f"The document name {name!r} contains characters that are not allowed."
            if len(data) > BEDROCK_MAX_DOCUMENT_BYTES:
                return "The document exceeds the maximum size of 4.5 MB."
            if document.get("format") == "pdf" and (problem := pdf_problem(data, 10**6)):
                return problem
    if count > BEDROCK_MAX_DOCUMENTS:
        return f"Too many documents: {count}; the limit is {BEDROCK_MAX_DOCUMENTS}."
    return None
