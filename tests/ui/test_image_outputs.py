"""The logs UI for images the model made: output cards, partial strips, an edit's mask, the list's
strips and filters, SVG outputs kept out of reach of scripts, chat replies with pictures."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gateway.errors import GatewayError
from gateway.models import LogImage
from logs_ui import thumbnails
from tests.ui.logs import SVG_WITH_SCRIPT, make_image_log, make_log, mask_png, png

pytestmark = pytest.mark.django_db
LIST = reverse("logs_ui:list")


def _detail(client, log) -> str:
    response = client.get(reverse("logs_ui:detail", args=[log.id]))
    assert response.status_code == 200
    return response.text


def _sha(log, role: str, part: int = 0, partial: int | None = None) -> str:
    found = log.images.get(role=role, part_index=part, partial_index=partial)
    return found.blob_id


def _ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="r[^"]*" data-id="(\d+)"', response.text)]


def test_a_generation_shows_each_output_as_a_card_beside_the_prompt(staff_client):
    first, second = png((40, 30), (250, 10, 10)), png((40, 30), (10, 250, 10))
    log = make_image_log(
        "A fox <b>in</b> the snow",
        outputs=[first, second],
        revised=["A red fox <script>x()</script> in deep snow", ""],
    )
    html = _detail(staff_client, log)
    inputs, output = html.split('aria-label="Output"')
    assert '<span class="tag ep" title="Endpoint">images.generations</span>' in inputs
    assert "A fox &lt;b&gt;in&lt;/b&gt; the snow" in inputs  # the prompt, escaped
    cards = re.findall(r'<figure class="img-card role-output[^"]*" id="image-(\d+)"', output)
    assert len(cards) == 2
    for part, made in enumerate((first, second)):
        sha = _sha(log, "output", part)
        assert f"/logs/images/{sha}/thumb-480.webp" in output
        assert f"/logs/images/{sha}/?download=1" in output
        assert f'data-copy="{sha}"' in output
        assert f"{len(made):,} bytes" in output
    assert "40×30 px" in output and "image/png" in output
    assert "Output image 0" in output and "Output image 1" in output
    assert "A red fox &lt;script&gt;x()&lt;/script&gt; in deep snow" in output
    assert "<script>x()" not in html
    assert output.count("revised prompt") == 1  # the second output has none
    assert 'prompt</span> <span class="prompt-text">A fox &lt;b&gt;in' in output
    assert "0 sent · 2 made" in inputs
    assert "detail</dt>" not in html  # an input's detail level means nothing here


def test_partial_images_form_a_strip_in_order(staff_client):
    partials = [(0, 0, png(color=(1, 1, 1))), (0, 1, png(color=(2, 2, 2))), (1, 0, png())]
    log = make_image_log(outputs=[png((8, 8)), png((9, 9))], partials=partials, stream=True)
    html = _detail(staff_client, log)
    strip = html.split('class="partial-strip"')[1].split("</ol>")[0]
    labels = re.findall(r"output (\d) · partial (\d)", strip)
    assert labels == [("0", "0"), ("0", "1"), ("1", "0")]
    for output, partial, _ in partials:
        assert f"/logs/images/{_sha(log, 'partial', output, partial)}/thumb-96.webp" in strip
    assert len(re.findall(r'class="img-card role-output', html)) == 2  # partials are no outputs


def test_an_edit_draws_its_mask_over_the_first_image_with_a_toggle(staff_client):
    image, other = png((6, 4), (200, 200, 0)), png((6, 4), (0, 0, 200))
    mask = mask_png((6, 4))
    log = make_image_log(
        "Put a hat on it",
        endpoint="images.edits",
        inputs=[image, other],
        mask=mask,
        outputs=[png((6, 4), (9, 9, 9))],
    )
    html = _detail(staff_client, log)
    inputs, output = html.split('aria-label="Output"')
    mask_sha, first_sha = _sha(log, "mask", 2), _sha(log, "input", 0)
    masked = re.search(r'<figure class="img-card role-input masked-card" id="image-\d+"', inputs)
    assert masked, inputs
    card = inputs[masked.start() :].split("</figure>")[0]
    assert f"--mask: url('/logs/images/{mask_sha}/')" in card
    assert f"/logs/images/{first_sha}/thumb-480.webp" in card
    assert "mask-keep" in card and "mask-edit" in card
    assert '<label class="mask-toggle"><input type="checkbox" checked>' in card
    assert inputs.count("masked-card") == 1  # the second image has no mask drawn on it
    assert 'class="img-card role-mask"' in inputs and "Transparent where" in inputs
    assert "2 images and a mask" in inputs
    assert mask_sha not in output and 'class="img-card role-output' in output
    assert "Copy as curl" not in html  # an edit's files cannot be replayed from a snippet
    url = reverse("logs_ui:snippet", args=[log.id, "curl"])
    assert staff_client.get(url).status_code == 404


def test_a_chat_reply_shows_its_pictures_in_the_output_panel(staff_client):
    picture = png((12, 10), (5, 90, 200))
    log = make_log("Draw a square", "Here it is.", images=[png()], reply_images=[picture])
    html = _detail(staff_client, log)
    inputs, output = html.split('aria-label="Output"')
    out_sha, in_sha = _sha(log, "output", 0), _sha(log, "input", 1)
    assert "Draw a square" in inputs  # the text part at (0, 0) is still the text
    assert in_sha in inputs and out_sha not in inputs
    assert f"/logs/images/{out_sha}/thumb-480.webp" in output and "Here it is." in output
    assert "Output image 0" in output and "12×10 px" in output
    assert '<span class="tag ep" title="Endpoint">chat.completions</span>' in inputs


def test_a_failed_generation_says_no_image_was_made(staff_client):
    log = make_image_log(error=GatewayError(400, "Your prompt was rejected.", code="moderation"))
    html = _detail(staff_client, log)
    assert "No image: the request failed" in html and "Your prompt was rejected." in html


def test_an_svg_output_is_shown_through_img_only_and_served_sandboxed(staff_client, monkeypatch):
    log = make_image_log(outputs=[SVG_WITH_SCRIPT], output_format="svg")
    image = log.images.get(role="output")
    assert image.blob.mime == "image/svg+xml" and not image.error
    html = _detail(staff_client, log)
    url = reverse("logs_ui:image", args=[image.blob_id])
    assert f'<img src="{url}" width="240" height="240" alt="Output image 0" class="svg">' in html
    assert "__pwned" not in html and "Cannot show" not in html
    served = staff_client.get(url)
    assert served.content == SVG_WITH_SCRIPT
    assert served["Content-Type"] == "image/svg+xml"
    assert "sandbox" in served["Content-Security-Policy"]
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Disposition"].startswith("attachment")  # opened, it downloads

    def no_pillow(*args):
        raise AssertionError("an SVG must not reach Pillow")

    monkeypatch.setattr(thumbnails, "render", no_pillow)
    thumb = staff_client.get(reverse("logs_ui:thumbnail", args=[image.blob_id, 96]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"
    assert "SVG" in thumb["X-Iris-Thumbnail-Error"]
    listed = staff_client.get(LIST).text
    assert f'<img src="{url}" alt="" width="32" height="32"' in listed


def test_the_list_shows_made_images_apart_from_sent_ones_in_one_images_query(staff_client):
    sent, made = png(color=(7, 7, 7)), png(color=(8, 8, 8))
    edit = make_image_log(
        endpoint="images.edits", inputs=[sent], mask=mask_png(), outputs=[made, png()]
    )
    chat = make_log(images=[png(color=(3, 3, 3))])
    with CaptureQueriesContext(connection) as queries:
        html = staff_client.get(LIST).text
    image_queries = [q for q in queries.captured_queries if "gateway_logimage" in q["sql"]]
    assert len(image_queries) == 1
    rows = {int(m[0]): m[1] for m in re.findall(r'data-id="(\d+)">(.*?)</tr>', html, re.S)}
    sent_part, made_part = rows[edit.id].split('class="made-arrow"')
    assert _sha(edit, "input", 0) in sent_part and _sha(edit, "output", 0) not in sent_part
    assert _sha(edit, "output", 0) in made_part and _sha(edit, "output", 1) in made_part
    assert _sha(edit, "mask", 1) not in rows[edit.id]  # the mask is for the request's page
    assert "images.edits</span>" in rows[edit.id]
    assert "made-arrow" not in rows[chat.id] and "chat.completions</span>" in rows[chat.id]


def test_the_list_filters_by_generated_images_and_by_endpoint(staff_client):
    generation = make_image_log(outputs=[png()])
    failed = make_image_log(error=GatewayError(500, "upstream broke"))
    edit = make_image_log(endpoint="images.edits", inputs=[png()], outputs=[png()])
    chat = make_log()
    assert _ids(staff_client.get(f"{LIST}?has_output_images=1")) == [edit.id, generation.id]
    assert _ids(staff_client.get(f"{LIST}?has_output_images=0")) == [chat.id, failed.id]
    by_endpoint = staff_client.get(f"{LIST}?endpoint=images.generations")
    assert _ids(by_endpoint) == [failed.id, generation.id]
    assert _ids(staff_client.get(f"{LIST}?endpoint=chat.completions")) == [chat.id]
    html = by_endpoint.text
    assert '<option value="images.generations" selected>' in html
    assert '<option value="1">Generated images</option>' in html
    assert "is not one of the available choices" in staff_client.get(f"{LIST}?endpoint=x").text


def test_a_generation_is_replayed_against_the_images_endpoint(staff_client):
    log = make_image_log("A lighthouse at dusk", outputs=[png()])
    html = _detail(staff_client, log)
    assert "Copy as curl" in html
    curl = staff_client.get(reverse("logs_ui:snippet", args=[log.id, "curl"])).text
    assert "curl http://testserver/v1/images/generations" in curl
    assert '"prompt": "A lighthouse at dusk"' in curl
    script = staff_client.get(reverse("logs_ui:snippet", args=[log.id, "python"])).text
    assert "client.images.generate(**request)" in script and "b64decode" in script
    compile(script, "snippet.py", "exec")


def test_an_output_the_model_garbled_is_explained_not_shown(staff_client):
    log = make_image_log(outputs=[b"not an image at all"])
    image = LogImage.objects.get(log=log, role="output")
    assert image.error
    html = _detail(staff_client, log)
    assert "Cannot show this image." in html and "Download the raw bytes" in html
