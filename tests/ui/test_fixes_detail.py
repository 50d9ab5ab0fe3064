"""Issue 17: a request refused for one bad image (an SVG data URI, broken base64) shows its
messages, its model and which image was bad, not "not valid chat JSON", 0 messages and
"unknown model"."""

import json

import pytest
from django.urls import reverse

from gateway import log as request_log
from gateway.chat import parse_chat
from gateway.errors import GatewayError
from gateway.log.entry import save_records
from gateway.models import RequestLog
from tests.ui.logs import data_uri, png

pytestmark = pytest.mark.django_db

SVG = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4="
BROKEN = "data:image/png;base64,iVBORw0KGgo!!!not-base64"


def refused_log(bad_url: str, body: dict | None = None) -> RequestLog:
    """A chat request refused as gateway/service.py refuses it: parse_chat fails, the raw
    body is all the record has."""
    body = body or {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You read receipts."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is the total on this receipt?"},
                    {"type": "image_url", "image_url": {"url": data_uri(png())}},
                    {"type": "image_url", "image_url": {"url": bad_url, "detail": "high"}},
                ],
            },
        ],
    }
    record = request_log.Record.begin("/v1/chat/completions", {"x-portkey-provider": "openai"})
    record.endpoint = "chat.completions"
    record.raw_body = json.dumps(body).encode()
    with pytest.raises(GatewayError) as refused:
        parse_chat(record.raw_body)
    record.fail(refused.value)
    save_records([record])
    return RequestLog.objects.get(request_id=record.request_id)


@pytest.mark.parametrize("bad", [SVG, BROKEN], ids=["svg", "broken-base64"])
def test_a_refused_request_shows_its_messages_and_its_bad_image(staff_client, bad):
    log = refused_log(bad)
    assert log.model == "" and "_unparsed" in log.request_body  # what the log holds
    html = staff_client.get(reverse("logs_ui:detail", args=[log.id])).text
    assert "not valid chat JSON" not in html
    assert "unknown model" not in html and "gpt-4o-mini" in html
    assert "2 messages" in html
    assert "You read receipts." in html and "What is the total on this receipt?" in html
    cards = html.split('class="img-card')[1:]
    assert len(cards) == 2
    good, wrong = cards
    assert "refused before its images were stored" in good
    assert log.error_message.split(": ", 1)[1] in wrong  # the refusal's reason, on that image
    assert "messages[1].content[2]" in html  # the error banner still says where
    assert ";base64" in wrong and "<dd>high</dd>" in wrong


def test_a_body_that_is_not_json_is_still_shown_as_received(staff_client):
    record = request_log.Record.begin("/v1/chat/completions", {})
    record.endpoint = "chat.completions"
    record.raw_body = b'{"model": "gpt-4o", "messages": ['
    with pytest.raises(GatewayError) as refused:
        parse_chat(record.raw_body)
    record.fail(refused.value)
    save_records([record])
    log = RequestLog.objects.get(request_id=record.request_id)
    html = staff_client.get(reverse("logs_ui:detail", args=[log.id])).text
    assert "not valid chat JSON" in html and "0 messages" in html


def test_model_output_in_a_refused_body_is_escaped(staff_client):
    evil = "<script>window.__pwned = 1</script>"
    body = {
        "model": evil,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": evil}]},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": SVG}}]},
        ],
    }
    html = staff_client.get(reverse("logs_ui:detail", args=[refused_log(SVG, body).id])).text
    assert evil not in html and "&lt;script&gt;" in html
