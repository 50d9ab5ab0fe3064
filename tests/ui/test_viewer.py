"""The image viewer's markup on the request page (the Django client): the dialog and its script are
there, every control a labelled button, the URLs the script builds match the routes, and the
image links it opens from are plain links to the images, so they work without JavaScript."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from logs_ui import pdfpages
from tests.ui.logs import make_log, pdf, png

pytestmark = pytest.mark.django_db
STATIC = Path(settings.BASE_DIR) / "static"


class Tags(HTMLParser):
    """Every start tag, in order, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def _page(client, **kwargs) -> str:
    log = make_log(**kwargs)
    response = client.get(reverse("logs_ui:detail", args=[log.id]))
    assert response.status_code == 200
    return response.text


def test_the_request_page_carries_the_viewer_dialog_and_script(staff_client):
    html = _page(staff_client, images=[png((40, 30))])
    tags = _tags(html)
    scripts = [a["src"] for t, a in tags if t == "script" and a.get("src")]
    assert any(src.endswith("/viewer.js") for src in scripts), scripts
    sheets = [a["href"] for t, a in tags if t == "link" and a.get("rel") == "stylesheet"]
    assert any(href.endswith("/viewer.css") for href in sheets), sheets
    dialogs = [a for t, a in tags if t == "dialog"]
    assert len(dialogs) == 1 and dialogs[0]["id"] == "viewer"
    dialog = dialogs[0]
    assert dialog["aria-labelledby"] == "viewer-title" and 'id="viewer-title"' in html
    assert int(dialog["data-page-size"]) == pdfpages.LARGE  # a PDF page opens drawn this large

    start = html.index('<dialog id="viewer"')
    inside = _tags(html[start : html.index("</dialog>", start)])
    buttons = [a for t, a in inside if t == "button"]
    acts = {a["data-act"] for a in buttons}
    assert acts == {"prev", "next", "in", "out", "actual", "fit", "frame-prev", "play",
                    "frame-next", "compare", "close"}  # fmt: skip
    assert all(a.get("type") == "button" and a.get("aria-label") for a in buttons), buttons
    compare = next(a for a in buttons if a["data-act"] == "compare")
    assert compare["aria-pressed"] == "false"
    assert any(t == "select" and a.get("aria-label") for t, a in inside)
    assert not any(t == "img" for t, _ in inside)  # made when first opened: no empty pictures


def test_the_links_it_opens_from_stay_plain_links_to_the_images(staff_client):
    html = _page(
        staff_client,
        images=[png((40, 30))],
        reply_images=[png((20, 20), (200, 30, 30))],
        files=[(pdf((100, 150, (10, 200, 10))), "one.pdf")],
    )
    tags = _tags(html)
    full = [a for t, a in tags if t == "a" and a.get("title") == "Open full size"]
    assert len(full) == 2  # the input and the output
    for a in full:
        assert re.fullmatch(r"/logs/images/[0-9a-f]{64}/", a["href"]), a
        assert a["target"] == "_blank"
    pages = [a for t, a in tags if t == "a" and a.get("title") == "Open page 1 large"]
    assert len(pages) == 1 and "/documents/" in pages[0]["href"]
    picture = next(a["src"] for t, a in tags if t == "img" and a.get("alt") == "Page 1")
    # viewer.js opens the page's picture at data-page-size: the same route, another size
    large = re.sub(r"-\d+\.webp$", f"-{pdfpages.LARGE}.webp", picture)
    assert staff_client.get(large).status_code == 200


def test_the_script_opens_the_links_the_templates_draw():
    """The selectors viewer.js delegates from name what the templates render."""
    script = (STATIC / "viewer.js").read_text()
    templates = Path(settings.BASE_DIR) / "templates" / "logs_ui"
    detail = (templates / "log_detail.html").read_text()
    assert "'a[title=\"Open full size\"]'" in script and 'title="Open full size"' in detail
    assert '".doc-page > a"' in script
    assert 'class="doc-page"' in (templates / "document.html").read_text()
    assert (
        '".seen-pic img"' in script and 'class="seen-pic"' in (templates / "seen.html").read_text()
    )
    assert "ImageDecoder" in script  # frames are stepped where the browser can decode them


def test_the_seen_picture_is_found_from_the_cards_toggle():
    """viewer.js takes the toggle's URL (the picture with its grid, for htmx) and swaps its
    trailing slash for .webp to get the picture's pixels."""
    for image_id in (1, 42, 987654):
        picture = reverse("logs_ui:seen-picture", args=[image_id])
        assert picture.endswith("/")
        assert picture[:-1] + ".webp" == reverse("logs_ui:seen-image", args=[image_id])
