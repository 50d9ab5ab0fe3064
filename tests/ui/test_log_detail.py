import io
import re

import pytest
from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image as PILImage

from gateway import http
from gateway.errors import GatewayError
from gateway.models import RequestLog
from tests.ui.logs import DEMO_IMAGES, UrlImage, data_uri, make_log, png

pytestmark = pytest.mark.django_db


def _detail(client, log):
    response = client.get(reverse("logs_ui:detail", args=[log.id]))
    assert response.status_code == 200
    return response.text


def test_it_renders_the_conversation_beside_the_output(staff_client):
    log = make_log("What is in this image?", "A cat on a mat.", images=[png()], system="Be brief.")
    html = _detail(staff_client, log)
    inputs, output = html.split('aria-label="Output"')
    assert inputs.index("Be brief.") < inputs.index("What is in this image?")
    assert (
        '<span class="role">system</span>' in inputs and '<span class="role">user</span>' in inputs
    )
    assert "thumb-480.webp" in inputs
    assert "A cat on a mat." in output and '<span class="role">assistant</span>' in output


def test_it_describes_each_image(staff_client):
    image = png(size=(30, 20))
    log = make_log(images=[image], detail="low")
    again = make_log(images=[image])
    sha = log.images.get().blob_id
    html = _detail(staff_client, log)
    assert "base64" in html and "data:image/png;base64," in html
    assert "image/png" in html and "30×20 px" in html
    assert f"({len(image):,} bytes)" in html
    assert f'data-copy="{sha}"' in html and sha[:16] in html
    assert "<dd>low</dd>" in html
    assert f'href="/logs/?image={sha}">also in 1 other request</a>' in html
    assert f'href="/logs/images/{sha}/"' in html  # the thumbnail opens the full image
    assert "only in this request" not in html
    assert "also in 1 other request" in _detail(staff_client, again)


def test_it_shows_a_url_image_from_the_copy_kept(staff_client):
    log = make_log(images=[UrlImage("https://images.example/cat.png", png())])
    html = _detail(staff_client, log)
    assert 'href="https://images.example/cat.png"' in html
    assert "(copy kept)" in html and "thumb-480.webp" in html


def test_it_says_why_a_url_could_not_be_fetched(staff_client):
    log = make_log(
        images=[UrlImage("https://10.0.0.8/x.png", error="fetch failed: refused: private address")]
    )
    html = _detail(staff_client, log)
    assert "Cannot show this image." in html
    assert "fetch failed: refused: private address" in html
    assert "<img" not in html.split('aria-label="Output"')[0].split("Input")[1]


def test_it_offers_the_raw_bytes_of_what_is_not_an_image(staff_client):
    log = make_log(images=[UrlImage("https://x.example/page", b"<html>not an image</html>")])
    html = _detail(staff_client, log)
    sha = log.images.get().blob_id
    assert "Cannot show this image." in html and "is not an image" in html
    assert f"/logs/images/{sha}/?download=1" in html and "Download the raw bytes" in html


def test_it_flags_exif_orientation(staff_client):
    log = make_log(images=[(DEMO_IMAGES / "astronaut_exif6.jpg").read_bytes()])
    html = _detail(staff_client, log)
    assert "orientation 6: rotated 90° clockwise; applied in the thumbnail" in html
    assert "320×240 px" in html and "(stored as 240×320)" in html
    width, height = map(
        int, re.search(r'thumb-480.webp" width="(\d+)" height="(\d+)"', html).groups()
    )
    assert width > height  # stored 240×320 sideways, shown upright 320×240


def test_it_flags_animations(staff_client):
    log = make_log(images=[(DEMO_IMAGES / "no_time_for_that_tiny.gif").read_bytes()])
    assert "animated, 24 frames: thumbnail shows the first" in _detail(staff_client, log)


def test_it_shows_a_stream_assembled(staff_client):
    log = make_log("Tell me", "one two three", stream=True)
    RequestLog.objects.filter(pk=log.pk).update(ttft_ms=120.0, latency_ms=900.0)
    html = _detail(staff_client, log)
    assert "Assembled from 4 chunks" in html and "first token after 120 ms" in html
    assert "one two three" in html


def test_it_puts_errors_first(staff_client):
    log = make_log(error=GatewayError(429, "Rate limit reached for gpt-4o.", code="rate_limit"))
    html = _detail(staff_client, log)
    banner = html.index('class="error-banner" role="alert"')
    assert banner < html.index('aria-label="Input"')
    assert "Rate limit reached for gpt-4o." in html and "rate_limit" in html
    assert "No reply: the request failed" in html


def test_it_skips_reply_parts_whose_text_is_not_a_string(staff_client):
    log = make_log()
    parts = [{"type": "text", "text": None}, {"type": "text", "text": 7}, {"text": "kept"}]
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": parts}}]}
    RequestLog.objects.filter(pk=log.pk).update(response_body=body)
    assert "kept" in _detail(staff_client, log)


def test_it_shows_tool_calls(staff_client):
    call = {"name": "search_catalog", "arguments": '{"query":"mug"}'}
    log = make_log(reply=None, tool_call=call)
    html = _detail(staff_client, log)
    assert "search_catalog" in html and "&quot;query&quot;: &quot;mug&quot;" in html


def test_it_escapes_model_output(staff_client):
    evil = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    log = make_log(evil, evil, metadata={"k": evil}, trace_id="<b>t</b>")
    html = _detail(staff_client, log)
    assert "<script>window.pwned" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert "<b>t</b>" not in html


def test_it_shows_metadata_with_a_key_named_items(staff_client):
    html = _detail(staff_client, make_log(metadata={"items": "x", "app": "tagger"}))
    assert "items=x" in html and "app=tagger" in html


def test_it_links_to_the_trace(staff_client):
    log = make_log(trace_id="checkout 7")
    assert 'href="/logs/?trace_id=checkout%207"' in _detail(staff_client, log)


def test_it_loads_the_raw_json_lazily(staff_client):
    log = make_log(images=[png()])
    html = _detail(staff_client, log)
    assert f'hx-get="/logs/{log.id}/raw/request/" hx-trigger="revealed"' in html
    tab = staff_client.get(
        reverse("logs_ui:raw", args=[log.id, "request"]), headers={"HX-Request": "true"}
    ).text
    assert '<section id="raw"' in tab and "<html" not in tab
    assert 'class="jt"' in tab and "iris-blob:" in tab
    assert 'aria-selected="true" class="active">Request JSON' in tab


def test_it_shows_the_response_and_redacted_headers(staff_client):
    log = make_log(reply="<script>x</script>")
    raw = reverse("logs_ui:raw", args=[log.id, "response"])
    tab = staff_client.get(raw, headers={"HX-Request": "true"}).text
    assert "&lt;script&gt;x&lt;/script&gt;" in tab and "<script>x" not in tab
    headers = staff_client.get(
        reverse("logs_ui:raw", args=[log.id, "headers"]), headers={"HX-Request": "true"}
    ).text
    assert "[redacted]" in headers and "sk-secret" not in headers


def test_it_shows_what_was_sent_upstream(staff_client):
    log = make_log()
    log.upstream_body = {"system": [{"text": "<b>translated</b>"}], "messages": []}
    log.save()
    raw = reverse("logs_ui:raw", args=[log.id, "upstream"])
    tab = staff_client.get(raw, headers={"HX-Request": "true"}).text
    assert "&lt;b&gt;translated&lt;/b&gt;" in tab and "<b>translated" not in tab
    assert 'aria-selected="true" class="active">Upstream JSON' in tab
    as_sent = make_log()  # the client's bytes went as they were
    same = staff_client.get(reverse("logs_ui:raw", args=[as_sent.id, "upstream"])).json()
    assert same == {"note": "Sent upstream as received: see Request JSON."}


def test_it_serves_the_raw_json_as_json_without_htmx(staff_client):
    log = make_log()
    response = staff_client.get(reverse("logs_ui:raw", args=[log.id, "response"]))
    assert response["Content-Type"] == "application/json"
    assert response.json()["choices"][0]["message"]["content"] == "A small blue rectangle."
    assert staff_client.get(reverse("logs_ui:raw", args=[log.id, "nope"])).status_code == 404


def test_it_copies_the_request_as_curl(staff_client):
    image = png()
    log = make_log("hi 'there'", images=[image], metadata={"env": "$(rm -rf /)"})
    text = staff_client.get(reverse("logs_ui:snippet", args=[log.id, "curl"])).text
    assert text.startswith("curl http://testserver/v1/chat/completions")
    assert '-H "x-portkey-api-key: $IRIS_API_KEY"' in text
    assert '-H "authorization: Bearer $PROVIDER_API_KEY"' in text
    assert "-H 'x-portkey-provider: openai'" in text
    assert "<<'IRIS_JSON'" in text and text.rstrip().endswith("IRIS_JSON")
    assert "sk-secret" not in text
    assert data_uri(image) in text  # the image as the client sent it


def test_it_cannot_copy_a_request_whose_image_is_gone_but_shows_it(staff_client):
    log = make_log(images=[png()])
    default_storage.delete(log.images.get().blob.storage_name)
    text = staff_client.get(reverse("logs_ui:snippet", args=[log.id, "curl"]))
    assert text.status_code == 404 and b"missing from blob storage" in text.content
    assert "thumb-480.webp" in _detail(staff_client, log)


def test_it_copies_the_request_as_python(staff_client):
    log = make_log("hi", images=[png()], stream=True)
    text = staff_client.get(reverse("logs_ui:snippet", args=[log.id, "python"])).text
    compile(text, "snippet.py", "exec")
    assert "from openai import OpenAI" in text
    assert "base_url='http://testserver/v1'" in text
    assert "os.environ['IRIS_API_KEY']" in text and "os.environ['PROVIDER_API_KEY']" in text
    assert "for chunk in client.chat.completions.create(**request):" in text


def test_it_shows_a_body_it_could_not_parse(staff_client):
    log = make_log()
    RequestLog.objects.filter(pk=log.pk).update(request_body={"_unparsed": "{not json <b>"})
    html = _detail(staff_client, log)
    assert "not valid chat JSON" in html and "{not json &lt;b&gt;" in html
    assert "Copy as curl" not in html
    assert staff_client.get(reverse("logs_ui:snippet", args=[log.id, "curl"])).status_code == 404


def test_it_answers_404_for_an_unknown_request(staff_client):
    assert staff_client.get(reverse("logs_ui:detail", args=[999])).status_code == 404


def test_it_renders_ten_images_in_few_queries(staff_client, django_assert_max_num_queries):
    images = [png(color=(i, i, i)) for i in range(10)]
    log = make_log(images=images)
    with django_assert_max_num_queries(16):
        html = _detail(staff_client, log)
    assert html.count("thumb-480.webp") == 10


@pytest.fixture
async def staff_async_client(async_client, django_user_model):
    user = await django_user_model.objects.acreate(username="staff-async", is_staff=True)
    await async_client.aforce_login(user)
    yield async_client
    await http.close_sessions()  # the live fetch's pooled session belongs to this loop


@pytest.mark.django_db(transaction=True)
async def test_it_shows_a_url_image_live_when_no_copy_was_kept(staff_async_client, fake_openai):
    url = f"{fake_openai.url}/images/rocket.jpg"
    log = await sync_to_async(make_log)(images=[UrlImage(url)])
    image = await log.images.aget()
    html = (await staff_async_client.get(reverse("logs_ui:detail", args=[log.id]))).text
    live = reverse("logs_ui:live-image", args=[image.id])
    assert f'src="{live}"' in html and "no copy kept: shown live" in html
    response = await staff_async_client.get(live)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert PILImage.open(io.BytesIO(response.content)).size == (640, 427)


@pytest.mark.django_db(transaction=True)
async def test_it_fetches_live_urls_through_the_private_network_guard(staff_async_client, settings):
    settings.GATEWAY_ALLOW_PRIVATE_NETWORKS = False
    log = await sync_to_async(make_log)(images=[UrlImage("http://127.0.0.1:9/secret.png")])
    image = await log.images.aget()
    response = await staff_async_client.get(reverse("logs_ui:live-image", args=[image.id]))
    assert response.status_code == 502
    assert "refused" in response.text


def test_it_says_how_long_a_url_image_took_to_fetch(staff_client):
    log = make_log(images=[UrlImage("https://images.example/cat.png", png())])
    log.images.update(fetch_ms=1234.4)
    assert "fetched by Iris in 1234 ms" in _detail(staff_client, log)
    assert "fetched by Iris" not in _detail(staff_client, make_log(images=[png()]))  # base64
