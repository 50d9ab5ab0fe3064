"""The dataset zip's layout and content: each image once under its sha256, every reference
naming a file in the zip, one valid JSON object per line with what the record holds."""

import hashlib

import pytest

from exports.export import plan, stream
from feedback.models import Feedback
from gateway.logquery import LogFilter
from gateway.models import RequestLog
from tests.exports.zips import read_export
from tests.ui.logs import UrlImage, make_image_log, make_log, mask_png, png

pytestmark = pytest.mark.django_db

RED, BLUE, GREEN, MADE = (
    png(color=(200, 0, 0)),
    png(color=(0, 0, 200)),
    png(color=(0, 200, 0)),
    png((8, 8), color=(9, 9, 9)),
)


def export(log_filter: LogFilter | None = None) -> tuple[list[dict], dict[str, bytes], list]:
    return read_export(b"".join(stream(plan(log_filter or LogFilter()))))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_refs(line: dict) -> list[str]:
    return [
        part["image_url"]["url"]
        for message in line["messages"]
        for part in message["content"]
        if part["type"] == "image_url"
    ]


def test_each_image_is_stored_once_by_sha256_and_named_from_the_messages():
    first = make_log("two of the same", images=[RED, RED, BLUE], metadata={"team": "ocr"})
    second = make_log("fetched", images=[UrlImage("https://example.com/r.png", data=RED), GREEN])
    lines, images, names = export()

    assert sorted(images) == sorted(f"images/{sha(b)}.png" for b in (RED, BLUE, GREEN))
    assert len(names) == len(set(names)) == 4  # three images and data.jsonl, once each
    assert names[-1] == "data.jsonl"
    for name, data in images.items():
        assert name == f"images/{sha(data)}.png"
    assert [line["id"] for line in lines] == [first.id, second.id]  # oldest first
    one, two = lines
    assert image_refs(one) == [f"images/{sha(RED)}.png"] * 2 + [f"images/{sha(BLUE)}.png"]
    # A URL image is named by the copy Iris kept, not by its URL.
    assert image_refs(two) == [f"images/{sha(RED)}.png", f"images/{sha(GREEN)}.png"]
    assert one["images_file_names"] == [f"images/{sha(RED)}.png", f"images/{sha(BLUE)}.png"]
    assert all(name in images for line in lines for name in image_refs(line))
    assert one["messages"][0]["content"][0] == {"type": "text", "text": "two of the same"}
    assert one["metadata"] == {"team": "ocr"}
    assert not any("iris-blob" in str(line) or "base64" in str(line) for line in lines)


def test_a_line_has_the_output_usage_cost_status_feedback_and_labels():
    log = make_log(
        "read it",
        reply=None,
        images=[RED],
        tool_call={"name": "read_plate", "arguments": '{"plate": "AB 123"}'},
        reply_images=[MADE],
        trace_id="trace-7",
    )
    Feedback.objects.create(trace_id="trace-7", value=-1, labels=["ocr-miss"], comment="wrong")
    Feedback(trace_id=log.request_id, value=5, weight=0.5, labels=["ocr-miss", "blurry"]).save()
    Feedback(trace_id=log.request_id, value=2, metadata={"user": {"id": 7}}).save()
    RequestLog.objects.filter(pk=log.pk).update(cost_usd="0.0042")
    make_log("unrelated", trace_id="trace-8")
    Feedback(trace_id="trace-8", value=1, labels=["other"]).save()

    lines, images, _ = export(LogFilter(trace_id="trace-7"))
    (line,) = lines
    output = line["output"]
    assert output["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "read_plate", "arguments": '{"plate": "AB 123"}'},
        }
    ]
    assert output["images"] == [f"images/{sha(MADE)}.png"] == line["output_images_file_names"]
    assert images[f"images/{sha(MADE)}.png"] == MADE and images[f"images/{sha(RED)}.png"] == RED
    assert line["labels"] == ["ocr-miss", "blurry"]
    assert [fb["value"] for fb in line["feedback"]] == [-1, 5, 2]
    assert line["feedback"][0]["comment"] == "wrong"
    assert line["feedback"][2]["metadata"] == '{"user": {"id": 7}}'  # any JSON: as JSON text
    assert line["usage"] == {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37}
    assert line["cost_usd"] == "0.0042"
    assert (line["status"], line["error"], line["provider"]) == (200, None, "openai")
    assert line["request_id"] == log.request_id and line["created_at"].startswith("20")


def test_a_structured_answer_keeps_its_json_text_and_an_error_its_message():
    from gateway.errors import GatewayError

    make_log("as json", reply='{"plate": "AB 123"}')
    make_log("boom", error=GatewayError(502, "Upstream fell over.", code="upstream_error"))
    lines, _, _ = export()
    assert lines[0]["output"]["content"] == '{"plate": "AB 123"}'
    assert lines[0]["output"]["finish_reason"] == "stop"
    assert lines[1]["status"] == 502 and "Upstream fell over." in lines[1]["error"]


def test_an_image_edit_names_its_inputs_mask_and_outputs():
    mask = mask_png()
    make_image_log("make it red", endpoint="images.edits", inputs=[BLUE], mask=mask, outputs=[MADE])
    (line,), images, _ = export()
    parts = line["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "make it red"}
    assert [p["image_url"]["url"] for p in parts[1:]] == [
        f"images/{sha(BLUE)}.png",
        f"images/{sha(mask)}.png",
    ]
    assert parts[2]["mask"] is True
    assert line["output"]["images"] == [f"images/{sha(MADE)}.png"]
    assert set(images) == {f"images/{sha(b)}.png" for b in (BLUE, mask, MADE)}


def test_a_url_image_without_a_copy_keeps_its_url_and_adds_no_file():
    url = "https://example.com/gone.png"
    make_log("gone", images=[UrlImage(url, error="404 Not Found")])
    (line,), images, _ = export()
    assert image_refs(line) == [url] and images == {} and line["images_file_names"] == []


def test_an_empty_filter_gives_an_empty_dataset():
    make_log("not this one", model="gpt-4o-mini")
    export_ = plan(LogFilter(model="no-such-model"))
    assert export_.records == 0
    lines, images, names = read_export(b"".join(stream(export_)))
    assert (lines, images, names) == ([], {}, ["data.jsonl"])
