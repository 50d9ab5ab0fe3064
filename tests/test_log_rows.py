"""Log rows: blobs stored once, images by reference, text the database would refuse."""

import base64
import json

import pytest
from django.core.files.storage import default_storage

from gateway import log as request_log
from gateway.chat import parse_chat
from gateway.errors import GatewayError
from gateway.log.entry import save_records
from gateway.models import Blob, LogImage, RequestLog, blob_name
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path, blob_dir):
    settings.LOG_SPOOL_DIR = tmp_path / "spool"


def record_with_image(image: bytes, text: str = "hi") -> request_log.Record:
    uri = "data:image/png;base64," + base64.b64encode(image).decode()
    raw = json.dumps(
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": text},
                        {"type": "image_url", "image_url": {"url": uri}},
                    ],
                }
            ],
        }
    )
    record = request_log.Record(path="/v1/chat/completions", request_headers={})
    record.chat = parse_chat(raw.encode())
    record.finish(200, {"choices": [{"message": {"content": "a red square"}}]})
    return record


def test_the_same_image_is_stored_once(tiny_png):
    save_records([record_with_image(tiny_png, "a"), record_with_image(tiny_png, "b")])
    save_records([record_with_image(tiny_png, "c")])
    [blob] = Blob.objects.all()
    assert LogImage.objects.filter(blob=blob).count() == 3
    with default_storage.open(blob_name(blob.sha256)) as f:
        assert f.read() == tiny_png
    log = RequestLog.objects.order_by("id").first()
    stored = log.request_body["messages"][0]["content"][1]["image_url"]["url"]
    assert stored == f"iris-blob:{blob.sha256}"
    assert (log.prompt_preview, log.reply_preview, log.image_count) == ("a", "a red square", 1)


def test_a_failed_request_is_logged_with_its_error():
    record = request_log.Record(path="/v1/chat/completions", request_headers={}, raw_body=b"{bad")
    record.fail(GatewayError(400, "Request body is not valid JSON", code="invalid_json"))
    save_records([record])
    log = RequestLog.objects.get()
    assert (log.status_code, log.error_message) == (400, "Request body is not valid JSON")
    assert log.response_body["error"]["code"] == "invalid_json"


def test_text_the_database_would_refuse_is_made_safe(tiny_png):
    record = record_with_image(tiny_png, "nul\x00here")
    record.chat.images[0].detail = "x" * 50
    record.metadata = {"k\x00": "v\x00"}
    record.finish(
        200, {"choices": [{"message": {"content": "a\x00b"}}], "usage": {"prompt_tokens": -1}}
    )
    save_records([record])
    log = RequestLog.objects.get()
    assert log.prompt_preview == "nul\ufffdhere" and log.metadata == {"k\ufffd": "v\ufffd"}
    assert log.response_body["choices"][0]["message"]["content"] == "a\ufffdb"
    assert log.prompt_tokens is None and log.images.get().detail == "x" * 20


def test_a_stream_is_assembled_into_one_completion():
    record = request_log.Record(path="/", request_headers={})
    base = {"id": "c1", "created": 1, "model": "m", "object": "chat.completion.chunk"}
    for delta, finish in [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Hel"}, None),
        ({"content": "lo"}, None),
        (
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a"'},
                    }
                ]
            },
            None,
        ),
        ({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}, "tool_calls"),
    ]:
        record.add_chunk(
            {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        )
    record.add_chunk(
        {
            **base,
            "choices": [],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        }
    )
    body = record.assembled()
    message = body["choices"][0]["message"]
    assert message["content"] == "Hello"
    assert message["tool_calls"] == [
        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["usage"]["total_tokens"] == 3 and record.chunk_count == 6


def test_the_upstream_body_is_logged_with_images_by_reference():
    photo = png_bytes(size=(64, 64), color=(9, 80, 200))
    record = record_with_image(photo)
    image = record.chat.images[0]
    blob_ref = f"iris-blob:{image.sha256}"
    long_text = "a long system prompt " * 200
    other_data = base64.b64encode(bytes(range(256)) * 20).decode()
    record.upstream_body = {
        "system": long_text,
        "cjk": "長" * 3000,  # long text without spaces is still text
        "parts": [
            {"data": image.payload_base64},
            {"url": f"data:image/png;base64,{image.payload_base64}"},
        ],
        "other": other_data,
    }
    converted = record_with_image(png_bytes(size=(70, 70)), "converted")
    converted.chat.images[0].converted = (png_bytes(size=(71, 71)), "image/png")
    converted.upstream_body = {"data": converted.chat.images[0].payload_base64}
    save_records([record, converted])
    logged = RequestLog.objects.get(request_id=record.request_id).upstream_body
    assert logged["parts"] == [{"data": blob_ref}, {"url": blob_ref}]
    assert logged["system"] == long_text and logged["cjk"] == "長" * 3000
    assert logged["other"] == f"[{len(other_data)} characters of base64 not kept]"
    other = RequestLog.objects.get(request_id=converted.request_id).upstream_body
    assert other == {"data": f"iris-converted:{converted.chat.images[0].sha256}"}


def test_no_upstream_body_is_logged_when_the_clients_bytes_went_as_they_were(tiny_png):
    save_records([record_with_image(tiny_png)])
    assert RequestLog.objects.get().upstream_body is None


def test_dropped_parameters_are_kept_on_the_row(tiny_png):
    record = record_with_image(tiny_png)
    record.dropped_params = ["seed", "logprobs"]
    save_records([record])
    assert RequestLog.objects.get().dropped_params == ["seed", "logprobs"]


def test_a_responses_answer_previews_its_message_text_or_its_calls():
    from gateway.log.rows import _reply_text

    reasoning = {"type": "reasoning", "summary": [], "content": [{"text": "secret thoughts"}]}
    message = {"type": "message", "content": [{"type": "output_text", "text": "Hi."}]}
    assert _reply_text({"object": "response", "output": [reasoning, message]}) == "Hi."
    call = {"type": "function_call", "name": "weather", "arguments": '{"city":"Oslo"}'}
    assert _reply_text({"object": "response", "output": [call]}) == 'calls weather({"city":"Oslo"})'


def test_a_sent_copy_the_quota_refuses_costs_the_copy_not_the_row(settings):
    from gateway.log import blobs

    record = record_with_image(png_bytes(color=(10, 20, 30)))
    img = record.chat.images[0]
    img.converted = (png_bytes(color=(40, 50, 60), size=(2, 2)), "image/png")  # as auto-fit
    settings.IRIS_BLOB_QUOTA_BYTES = 1  # no room for either blob
    blobs.quota.used = None
    save_records([record])
    row = LogImage.objects.get(log__request_id=record.request_id)
    assert row.blob_id is None and row.sent_blob_id is None
    assert "image not stored" in row.error
    assert "images not stored" in RequestLog.objects.get(request_id=record.request_id).degraded


def test_an_attempt_stamped_after_the_record_was_submitted_takes_the_records_figures():
    """forward() submits the record before the config run stamps its attempt: the writer
    may see the attempt without a status, and fills it from the record."""
    from gateway.log.rows import logged_attempts

    record = request_log.Record(path="/v1/chat/completions", request_headers={})
    record.attempts = [{"target": "config.targets[0]", "retry": 0, "status": 500}]
    record.attempts.append({"target": "config.targets[1]", "retry": 0})
    record.finish(200, {"choices": []})
    last = logged_attempts(record)[-1]
    assert last["status"] == 200 and last["latency_ms"] == record.latency_ms
    assert "status" not in record.attempts[-1]  # the run's own dict is left alone
