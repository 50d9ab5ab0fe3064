"""Responses API records on the logs UI: the request page reads as a conversation (instructions,
the input items in order with their image and PDF where they were sent, function calls and
their outputs, then the output items: text escaped, calls, reasoning summaries folded), the
parameters, the response it continues linked; the list's endpoint badge and previews."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.ui.logs import data_uri, make_responses_log, pdf, png, responses_body

pytestmark = pytest.mark.django_db
LIST = reverse("logs_ui:list")
RED, BLUE = (220, 20, 20), (30, 40, 230)


def _detail(client, log) -> str:
    response = client.get(reverse("logs_ui:detail", args=[log.id]))
    assert response.status_code == 200
    return response.text


def _section(html: str, label: str) -> str:
    start = html.index(f'aria-label="{label}"')
    return html[start : html.index("</section>", start)]


def _turn(html: str, place: str) -> str:
    """The conversation turn shown for one place of the body (input[k], output[n]…)."""
    start = html.index(f'data-place="{place}"')
    end = html.find('<div class="msg', start)
    return html[start : end if end > 0 else len(html)]


IMAGE, DOCUMENT = png((30, 20), (10, 160, 90)), pdf((200, 300, RED), (300, 200, BLUE))
BODY = {
    "model": "claude-sonnet-4-5",
    "instructions": "Answer in one sentence.",
    "input": [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What do this photo and this report say?"},
                {"type": "input_image", "image_url": data_uri(IMAGE), "detail": "high"},
                {
                    "type": "input_file",
                    "filename": "q3 <draft>.pdf",
                    "file_data": data_uri(DOCUMENT, "application/pdf"),
                },
            ],
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Let me look the weather up first."}],
        },
        {
            "type": "function_call",
            "call_id": "call_weather_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {"type": "function_call_output", "call_id": "call_weather_1", "output": "18 °C, cloudy"},
        {"role": "developer", "content": "Mind the units."},
    ],
    "tools": [
        {"type": "function", "name": "get_weather", "parameters": {"type": "object"}},
        {"type": "function", "name": "get_time", "parameters": {"type": "object"}},
    ],
    "text": {"format": {"type": "json_schema", "name": "summary", "schema": {}, "strict": True}},
    "max_output_tokens": 512,
    "temperature": 0.3,
    "store": False,
}
ANSWER = responses_body(
    output=[
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [
                {"type": "summary_text", "text": "The photo is green; the PDF has 2 pages."}
            ],
            "content": [{"type": "reasoning_text", "text": "Green <pixels>, two pages."}],
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_time_2",
            "name": "get_time",
            "arguments": '{"zone": "Europe/Paris"}',
        },
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [
                {
                    "type": "output_text",
                    "text": "<b>A green card</b> & a 2-page report.",
                    "annotations": [],
                }
            ],
        },
    ]
)


def test_a_responses_record_reads_as_a_conversation_with_its_image_and_pdf(staff_client):
    log = make_responses_log(BODY, ANSWER)
    image = log.images.get(blob__mime="image/png")
    document = log.images.get(blob__mime="application/pdf")
    assert (image.message_index, image.part_index) == (0, 1)
    assert (document.message_index, document.part_index) == (0, 2)
    html = _detail(staff_client, log)
    inputs, output = _section(html, "Input"), _section(html, "Output")

    # Instructions as the system turn, then each input item in order.
    places = re.findall(r'data-place="([^"]+)"', inputs)
    assert places == [
        "instructions",
        "input[0]",
        "input[1]",
        "input[2] · function_call",
        "input[3] · function_call_output",
        "input[4]",
    ]
    assert "Answer in one sentence." in _turn(inputs, "instructions")
    assert '<span class="role">system</span>' in _turn(inputs, "instructions")
    assert "5 items" in inputs

    # The user's text, image card and PDF card, in the order they were sent.
    user = _turn(inputs, "input[0]")
    text_at = user.index("What do this photo and this report say?")
    image_at = user.index(f'id="image-{image.id}"')
    document_at = user.index(f'id="document-{document.id}"')
    assert text_at < image_at < document_at
    thumb = reverse("logs_ui:thumbnail", args=[image.blob_id, 480])
    assert f'<img src="{thumb}"' in user and "30×20 px" in user
    assert "<dt>detail</dt><dd>high</dd>" in user
    card = user[document_at : user.index("</figure>", document_at)]
    assert "q3 &lt;draft&gt;.pdf" in card and "<draft>" not in card and "2 pages" in card
    pages = re.findall(r'<li class="doc-page" data-page="(\d+)">', card)
    assert pages == ["1", "2"]
    for n in (1, 2):
        picture = reverse("logs_ui:document-picture", args=[document.blob_id, n, 240])
        assert f'src="{picture}"' in card
    assert "<dt>Documents</dt><dd>1 PDF</dd>" in html

    # Earlier turns sent back: the assistant's text, its call and the call's output.
    assert "Let me look the weather up first." in _turn(inputs, "input[1]")
    call = _turn(inputs, "input[2] · function_call")
    assert '<b class="mono">get_weather</b>' in call and "call_weather_1" in call
    assert '"city": "Paris"' in call.replace("&quot;", '"')  # pretty-printed
    result = _turn(inputs, "input[3] · function_call_output")
    assert '<span class="role">tool</span>' in result and "→ call_weather_1" in result
    assert "18 °C, cloudy" in result
    assert '<span class="role">developer</span>' in _turn(inputs, "input[4]")

    # The parameters.
    params = dict(re.findall(r'<dt class="mono">([^<]+)</dt><dd class="mono">([^<]*)</dd>', inputs))
    assert params["model"] == "claude-sonnet-4-5"
    assert params["text.format"] == "json_schema · summary · strict"
    assert params["tools"] == "get_weather, get_time"
    assert params["max_output_tokens"] == "512" and params["temperature"] == "0.3"
    assert params["store"] == "false"

    # The output items, in order: a folded reasoning summary, a call, the text escaped.
    places = re.findall(r'data-place="([^"]+)"', output)
    assert places == ["output[0]", "output[1] · function_call", "output[2]"]
    reasoning = _turn(output, "output[0]")
    assert '<details class="reasoning">' in reasoning and "<details open" not in reasoning
    assert "The photo is green; the PDF has 2 pages." in reasoning
    assert "<summary>Reasoning summary</summary>" in reasoning
    assert "<summary>Reasoning text</summary>" in reasoning
    assert "Green &lt;pixels&gt;, two pages." in reasoning
    assert '<b class="mono">get_time</b>' in _turn(output, "output[1] · function_call")
    reply = _turn(output, "output[2]")
    assert "&lt;b&gt;A green card&lt;/b&gt; &amp; a 2-page report." in reply
    assert "<b>A green card</b>" not in html
    assert 'Response <span class="resp-status">completed</span>' in output


def test_previous_response_id_links_to_the_earlier_record_in_one_query(staff_client):
    first = make_responses_log({"model": "claude-sonnet-4-5", "input": "Hello"})
    previous = f"resp_iris_{first.request_id}"
    second = make_responses_log(
        {"model": "claude-sonnet-4-5", "previous_response_id": previous, "input": "And then?"}
    )
    with CaptureQueriesContext(connection) as queries:
        html = _detail(staff_client, second)
    note = html[html.index("prev-note") :]
    note = note[: note.index("</div>")]
    href = reverse("logs_ui:detail", args=[first.id])
    assert f'<a class="prev-link mono" href="{href}">{previous}</a>' in note
    assert "not part of this record's request body" in note
    looked_up = [q["sql"] for q in queries if first.request_id in q["sql"]]
    assert len(looked_up) == 1, looked_up
    # Only this record's own input is its conversation.
    assert re.findall(r'data-place="([^"]+)"', _section(html, "Input")) == ["input[0]"]

    # An Iris id the log no longer holds, and a provider's id: shown, not linked.
    gone = make_responses_log(
        {"model": "m", "previous_response_id": "resp_iris_" + "0" * 32, "input": "x"}
    )
    html = _detail(staff_client, gone)
    assert "which is no longer in the log" in html and "prev-link" not in html
    theirs = make_responses_log(
        {"model": "gpt-4.1", "previous_response_id": "resp_68a1<x>", "input": "x"},
        provider="openai",
    )
    html = _detail(staff_client, theirs)
    assert '<span class="mono">resp_68a1&lt;x&gt;</span>, a response the provider stored' in html
    assert "prev-link" not in html
    assert "prev-note" not in _detail(staff_client, first)


def test_a_string_input_and_an_empty_answer(staff_client):
    log = make_responses_log(
        {"model": "m", "input": "Just <text>"},
        responses_body(status="incomplete", incomplete_details={"reason": "max_output_tokens"}),
    )
    html = _detail(staff_client, log)
    user = _turn(_section(html, "Input"), "input[0]")
    assert '<span class="role">user</span>' in user and "Just &lt;text&gt;" in user
    assert 'store</dt><dd class="mono">true (default)' in html
    output = _section(html, "Output")
    assert "incomplete: max_output_tokens" in output and "No reply was recorded." in output


def test_the_list_shows_the_endpoint_and_previews_of_a_responses_record(staff_client):
    log = make_responses_log(BODY, ANSWER)
    html = staff_client.get(LIST).text
    row = html[html.index(f'data-id="{log.id}"') :]
    row = row[: row.index("</tr>")]
    assert '<span class="tag ep" title="Endpoint">responses</span>' in row
    # The last user message's texts, and the output text (escaped).
    assert '<div class="prompt">What do this photo and this report say?</div>' in row
    assert "&lt;b&gt;A green card&lt;/b&gt; &amp; a 2-page report." in row
    assert row.count("<img ") == 2  # the image and the PDF's first page
    assert 'title="PDF, 2 pages"' in row
    filtered = staff_client.get(LIST, {"endpoint": "responses"})
    assert filtered.status_code == 200 and f'data-id="{log.id}"' in filtered.text
    assert '<option value="responses" selected>' in filtered.text
