"""PDFs on the logs UI: a document card where the PDF was sent (filename, pages, size, a strip of
page pictures drawn by PDFium), a page opened large, the pixel bound, a PDF PDFium cannot open,
the download's headers, the list's document thumbnail, and the logs API's page count."""

import io
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image as PILImage

from gateway.models import ApiKey
from logs_ui import pdfpages
from tests.ui.logs import make_log, pdf, png

pytestmark = pytest.mark.django_db
LIST = reverse("logs_ui:list")
RED, GREEN, BLUE = (220, 20, 20), (20, 200, 40), (30, 40, 230)


def _detail(client, log) -> str:
    response = client.get(reverse("logs_ui:detail", args=[log.id]))
    assert response.status_code == 200
    return response.text


def _document(log):
    return log.images.get(blob__mime="application/pdf")


def _picture(client, sha: str, page: int, size: int) -> PILImage.Image:
    response = client.get(reverse("logs_ui:document-picture", args=[sha, page, size]))
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert "X-Iris-Thumbnail-Error" not in response, response["X-Iris-Thumbnail-Error"]
    picture = PILImage.open(io.BytesIO(response.content))
    picture.load()
    return picture


def test_the_request_page_shows_a_pdf_where_it_was_sent(staff_client):
    document = pdf((200, 300, RED), (300, 200, GREEN), (200, 300, BLUE))
    log = make_log("Summarise this report.", files=[(document, "Q3 <report>.pdf")])
    row = _document(log)
    sha = row.blob_id
    html = _detail(staff_client, log)

    card = html[html.index('<figure class="doc-card"') :]
    card = card[: card.index("</figure>")]
    assert html.index("Summarise this report.") < html.index('<figure class="doc-card"')
    assert "Q3 &lt;report&gt;.pdf" in card and "<report>" not in card
    assert "3 pages" in card
    assert f"({len(document):,} bytes)" in card
    assert sha[:16] in card and f'data-copy="{sha}"' in card
    download = reverse("logs_ui:image", args=[sha]) + "?download=1&amp;name=Q3%20%3Creport%3E.pdf"
    assert f'href="{download}"' in card
    assert "<dt>Documents</dt><dd>1 PDF</dd>" in html
    pages = re.findall(r'<li class="doc-page" data-page="(\d+)"><a href="([^"]+)"', card)
    assert [int(n) for n, _ in pages] == [1, 2, 3]
    assert pages[1][1] == reverse("logs_ui:document-page", args=[sha, 2]) + f"?log={log.id}"
    assert "more page" not in card

    # Each page drawn as it is: its own colour, its own shape, at most 240 px.
    for page, color, shape in ((1, RED, (160, 240)), (2, GREEN, (240, 160)), (3, BLUE, (160, 240))):
        assert f'src="{reverse("logs_ui:document-picture", args=[sha, page, 240])}"' in card
        picture = _picture(staff_client, sha, page, 240)
        assert picture.size == shape
        pixel = picture.convert("RGB").getpixel((shape[0] // 2, shape[1] // 2))
        assert all(abs(a - b) < 24 for a, b in zip(pixel, color, strict=True)), (page, pixel)


def test_a_page_picture_is_drawn_once_and_then_served_as_immutable(staff_client):
    log = make_log(files=[(pdf((100, 100, RED)), None)])
    sha = _document(log).blob_id
    url = reverse("logs_ui:document-picture", args=[sha, 1, 240])
    first = staff_client.get(url)
    assert "immutable" in first["Cache-Control"]
    assert default_storage.exists(pdfpages.storage_name(sha, 1, 240))
    again = staff_client.get(url, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304
    assert (
        staff_client.get(reverse("logs_ui:document-picture", args=[sha, 2, 240])).status_code == 404
    )
    assert (
        staff_client.get(reverse("logs_ui:document-picture", args=[sha, 1, 333])).status_code == 404
    )
    image_sha = make_log(images=[png()]).images.get().blob_id
    assert (
        staff_client.get(reverse("logs_ui:document-page", args=[image_sha, 1])).status_code == 404
    )


def test_a_long_pdf_shows_eight_pages_and_loads_the_rest_on_demand(staff_client):
    document = pdf(*[(60, 80, (i * 12, 90, 120)) for i in range(20)])
    log = make_log(files=[(document, "long.pdf")])
    sha = _document(log).blob_id
    html = _detail(staff_client, log)
    assert html.count('<li class="doc-page"') == 8
    more = reverse("logs_ui:document-pages", args=[sha]) + f"?start=9&amp;log={log.id}"
    assert f'hx-get="{more}"' in html and "+12 more pages" in html

    fragment = staff_client.get(more.replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert re.findall(r'data-page="(\d+)"', fragment.text) == [str(n) for n in range(9, 21)]
    assert fragment.text.count('loading="lazy"') == 12 and "more page" not in fragment.text
    page = staff_client.get(more.replace("&amp;", "&"))
    assert "<html" in page.text and "Pages 9–20" in page.text
    assert f'href="{reverse("logs_ui:detail", args=[log.id])}"' in page.text
    assert (
        staff_client.get(reverse("logs_ui:document-pages", args=[sha]) + "?start=21").status_code
        == 404
    )


def test_a_page_opens_large_with_the_pages_around_it(staff_client):
    log = make_log(files=[(pdf((200, 300, RED), (200, 300, GREEN), (200, 300, BLUE)), "r.pdf")])
    sha = _document(log).blob_id
    response = staff_client.get(reverse("logs_ui:document-page", args=[sha, 2]), {"log": log.id})
    assert response.status_code == 200
    html = response.text
    assert "Page 2" in html and "of 3" in html
    large = reverse("logs_ui:document-picture", args=[sha, 2, pdfpages.LARGE])
    assert f'<img src="{large}" alt="Page 2 of 3">' in html
    around = reverse("logs_ui:document-page", args=[sha, 1]) + f"?log={log.id}"
    assert f'rel="prev" href="{around}"' in html and 'rel="next"' in html
    assert f'href="{reverse("logs_ui:detail", args=[log.id])}"' in html
    picture = _picture(staff_client, sha, 2, pdfpages.LARGE)
    assert picture.size == (1067, 1600)  # the longer side at LARGE, the page's shape kept
    assert staff_client.get(reverse("logs_ui:document-page", args=[sha, 4])).status_code == 404


def test_no_page_is_drawn_past_the_pixel_limit_whatever_size_the_pdf_claims(staff_client, settings):
    # 20 px at 0.072 dpi: each page claims 20000×20000 pt (a poster 7 m wide).
    huge = pdf((20, 20, BLUE), (20, 10, RED), resolution=0.072)
    log = make_log(files=[(huge, "poster.pdf")])
    sha = _document(log).blob_id
    assert "2 pages" in _detail(staff_client, log)
    assert _picture(staff_client, sha, 1, 240).size == (240, 240)
    assert _picture(staff_client, sha, 2, pdfpages.LIST).size == (96, 48)
    settings.GATEWAY_MAX_IMAGE_PIXELS = 250_000  # less than LARGE×LARGE: the limit wins
    drawn = _picture(staff_client, sha, 1, pdfpages.LARGE)
    assert drawn.width * drawn.height <= 250_000 and drawn.width >= 490
    assert pdfpages.scale_for(20000, 20000, 1600, 250_000) * 20000 <= 500


def test_a_pdf_pdfium_cannot_open_is_a_placeholder_with_the_reason(staff_client):
    log = make_log("Read this.", "Fine.", files=[(pdf((50, 50, RED)), "broken.pdf")])
    blob = _document(log).blob
    default_storage.delete(blob.storage_name)  # the stored bytes damaged after the fact
    default_storage.save(blob.storage_name, ContentFile(b"%PDF-1.7\nnot really a PDF"))
    html = _detail(staff_client, log)
    assert "Cannot show the pages." in html and "PDFium cannot open this PDF" in html
    assert '<li class="doc-page"' not in html and "broken.pdf" in html
    response = staff_client.get(reverse("logs_ui:document-picture", args=[blob.sha256, 1, 240]))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert "PDFium cannot open" in response["X-Iris-Thumbnail-Error"]
    large = staff_client.get(reverse("logs_ui:document-page", args=[blob.sha256, 1]))
    assert large.status_code == 200 and "Cannot show this page." in large.text
    assert "PDFium cannot open this PDF" in large.text and "<figure" not in large.text

    default_storage.delete(blob.storage_name)
    html = _detail(staff_client, log)
    assert "Cannot show the pages." in html and "missing from storage" in html


def test_the_pdf_is_downloaded_as_sent_never_shown_in_our_origin(staff_client):
    document = pdf((80, 100, RED), (80, 100, GREEN))
    log = make_log(files=[(document, "Q3 report.pdf")])
    url = reverse("logs_ui:image", args=[_document(log).blob_id])
    response = staff_client.get(url, {"download": "1", "name": "Q3 report.pdf"})
    assert response.status_code == 200 and response.content == document
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="Q3 report.pdf"'
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    # Without ?download the PDF is still an attachment; a name cannot change its type.
    plain = staff_client.get(url, {"name": "../../run me.exe"})
    assert plain["Content-Disposition"] == 'attachment; filename="run me.pdf"'


def test_the_list_shows_a_pdf_by_its_first_page_and_page_count_in_one_images_query(
    staff_client,
):
    both = make_log(images=[png()], files=[(pdf((60, 80, RED), (60, 80, GREEN)), "two.pdf")])
    only_pdf = make_log(files=[(pdf((60, 80, BLUE)), None)])
    make_log("nothing sent")
    with CaptureQueriesContext(connection) as queries:
        html = staff_client.get(LIST).text
    assert len([q for q in queries.captured_queries if "gateway_logimage" in q["sql"]]) == 1
    rows = {int(m[0]): m[1] for m in re.findall(r'data-id="(\d+)">(.*?)</tr>', html, re.S)}
    for log, pages in ((both, 2), (only_pdf, 1)):
        first = reverse("logs_ui:document-picture", args=[_document(log).blob_id, 1, 96])
        assert f'<img src="{first}"' in rows[log.id]
        assert f'<span class="doc-pages">{pages}p</span>' in rows[log.id]
    assert (
        reverse("logs_ui:thumbnail", args=[both.images.get(blob__mime="image/png").blob_id, 96])
        in rows[both.id]
    )
    assert _picture(staff_client, _document(only_pdf).blob_id, 1, 96).size == (72, 96)


def test_viewers_only(nobody_client):
    log = make_log(files=[(pdf((60, 80, RED)), None)])
    sha = _document(log).blob_id
    for url in (
        reverse("logs_ui:document-picture", args=[sha, 1, 240]),
        reverse("logs_ui:document-page", args=[sha, 1]),
        reverse("logs_ui:document-pages", args=[sha]),
    ):
        assert nobody_client.get(url).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_logs_api_gives_a_pdfs_page_count(client):
    key = ApiKey.generate("tools", can_read_logs=True)[1]
    log = make_log(images=[png()], files=[(pdf((60, 80, RED), (60, 80, GREEN)), "two.pdf")])
    response = client.get(f"/v1/logs/{log.id}", headers={"x-portkey-api-key": key})
    images = response.json()["images"]
    assert [(i["mime"], i["pages"]) for i in images] == [
        ("image/png", None),
        ("application/pdf", 2),
    ]
    pdf_item = images[1]
    download = client.get(pdf_item["content_url"], headers={"x-portkey-api-key": key})
    assert download["Content-Disposition"].endswith('.pdf"')
    assert (
        b"".join(download.streaming_content)
        == default_storage.open(_document(log).blob.storage_name).read()
    )
