"""The log writer: blobs stored once, references in rows, spool when the database fails."""

import base64
import json
import os
import pickle
import subprocess

import pytest
from django.core.files.storage import default_storage

from gateway import capture, logrows, redact
from gateway.chat import parse_chat
from gateway.errors import GatewayError
from gateway.models import Blob, LogImage, RequestLog, blob_name
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path, blob_dir):
    settings.LOG_SPOOL_DIR = tmp_path / "spool"


def record_with_image(image: bytes, text: str = "hi") -> capture.Record:
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
    record = capture.Record(path="/v1/chat/completions", request_headers={})
    record.chat = parse_chat(raw.encode())
    record.finish(200, {"choices": [{"message": {"content": "a red square"}}]})
    return record


def test_the_same_image_is_stored_once(tiny_png):
    logrows.save_batch([record_with_image(tiny_png, "a"), record_with_image(tiny_png, "b")])
    logrows.save_batch([record_with_image(tiny_png, "c")])
    [blob] = Blob.objects.all()
    assert LogImage.objects.filter(blob=blob).count() == 3
    with default_storage.open(blob_name(blob.sha256)) as f:
        assert f.read() == tiny_png
    log = RequestLog.objects.order_by("id").first()
    stored = log.request_body["messages"][0]["content"][1]["image_url"]["url"]
    assert stored == f"iris-blob:{blob.sha256}"
    assert (log.prompt_preview, log.reply_preview, log.image_count) == ("a", "a red square", 1)


def test_a_failed_request_is_logged_with_its_error():
    record = capture.Record(path="/v1/chat/completions", request_headers={}, raw_body=b"{bad")
    record.fail(GatewayError(400, "Request body is not valid JSON", code="invalid_json"))
    logrows.save_batch([record])
    log = RequestLog.objects.get()
    assert (log.status_code, log.error_message) == (400, "Request body is not valid JSON")
    assert log.response_body["error"]["code"] == "invalid_json"


def test_records_are_spooled_when_the_database_fails_and_replayed_later(monkeypatch, tiny_png):
    writer = capture.Writer()
    real_save = logrows.save_batch

    def broken(records):
        raise RuntimeError("database is down")

    monkeypatch.setattr(logrows, "save_batch", broken)
    monkeypatch.setattr(capture, "_database_up", lambda: False)
    monkeypatch.setattr(capture.time, "sleep", lambda s: None)
    writer.put(record_with_image(tiny_png))
    writer.drain()
    assert writer.spooled == 1 and RequestLog.objects.count() == 0
    monkeypatch.setattr(logrows, "save_batch", real_save)
    monkeypatch.setattr(capture, "_database_up", lambda: True)
    writer.put(record_with_image(png_bytes(color=(1, 2, 3)), "second"))  # restarts: replays
    writer.drain()
    assert sorted(RequestLog.objects.values_list("prompt_preview", flat=True)) == ["hi", "second"]
    assert not list((capture.settings.LOG_SPOOL_DIR).glob("*.pickle"))


def _poisoned(monkeypatch):
    """save_batch refuses any batch holding a record whose prompt is "poison"."""
    real_save = logrows.save_batch

    def save(records):
        if any(r.chat and logrows._prompt_text(r.chat) == "poison" for r in records):
            raise ValueError("a row the database refuses")
        real_save(records)

    monkeypatch.setattr(logrows, "save_batch", save)
    monkeypatch.setattr(capture.time, "sleep", lambda s: None)


def test_one_bad_record_does_not_cost_its_batch(monkeypatch, tiny_png):
    _poisoned(monkeypatch)
    writer = capture.Writer()
    writer._write([record_with_image(tiny_png, t) for t in ("one", "poison", "two")])
    assert sorted(RequestLog.objects.values_list("prompt_preview", flat=True)) == ["one", "two"]
    [failed] = capture.settings.LOG_SPOOL_DIR.glob("*.failed")
    assert [logrows._prompt_text(r.chat) for r in pickle.loads(failed.read_bytes())] == ["poison"]
    assert not list(capture.settings.LOG_SPOOL_DIR.glob("*.pickle"))  # never replayed


def test_replay_sets_a_bad_record_aside_and_goes_on(monkeypatch, tiny_png):
    writer = capture.Writer()
    writer._spool([record_with_image(tiny_png, "a"), record_with_image(tiny_png, "poison")])
    writer._spool([record_with_image(tiny_png, "b")])
    (capture.settings.LOG_SPOOL_DIR / "0-corrupt.pickle").write_bytes(b"not a pickle")
    _poisoned(monkeypatch)
    writer._replay_spool()
    assert sorted(RequestLog.objects.values_list("prompt_preview", flat=True)) == ["a", "b"]
    assert not list(capture.settings.LOG_SPOOL_DIR.glob("*.pickle"))
    assert len(list(capture.settings.LOG_SPOOL_DIR.glob("*.failed"))) == 2


def test_text_the_database_would_refuse_is_made_safe(tiny_png):
    record = record_with_image(tiny_png, "nul\x00here")
    record.chat.images[0].detail = "x" * 50
    record.metadata = {"k\x00": "v\x00"}
    record.finish(
        200, {"choices": [{"message": {"content": "a\x00b"}}], "usage": {"prompt_tokens": -1}}
    )
    logrows.save_batch([record])
    log = RequestLog.objects.get()
    assert log.prompt_preview == "nul\ufffdhere" and log.metadata == {"k\ufffd": "v\ufffd"}
    assert log.response_body["choices"][0]["message"]["content"] == "a\ufffdb"
    assert log.prompt_tokens is None and log.images.get().detail == "x" * 20


def test_a_full_queue_spools_instead_of_blocking(settings, tiny_png):
    settings.LOG_QUEUE_SIZE = 1
    writer = capture.Writer()
    writer._thread = object()  # pretend a writer runs but is stuck: nothing drains the queue
    writer.put(record_with_image(tiny_png, "queued"))
    writer.put(record_with_image(tiny_png, "overflow"))
    assert writer.queue.qsize() == 1 and writer.spooled == 1


def test_secrets_are_redacted_from_headers():
    headers = redact.redact_headers(
        {
            "Authorization": "Bearer sk-live",
            "x-portkey-api-key": "iris-x",
            "api-key": "az",
            "x-portkey-aws-secret-access-key": "s",
            "x-portkey-aws-session-token": "t",
            "Cookie": "sessionid=1",
            "x-portkey-provider": "openai",
        }
    )
    assert headers["x-portkey-provider"] == "openai"
    assert {v for k, v in headers.items() if k != "x-portkey-provider"} == {"[redacted]"}


def test_a_custom_host_is_logged_without_its_credentials():
    headers = redact.redact_headers(
        {"x-portkey-custom-host": "http://user:pw@[::1]:8000/v1?key=k-123&tenant=a"}
    )
    assert headers["x-portkey-custom-host"] == "http://[::1]:8000/v1?key=%5Bredacted%5D&tenant=a"
    odd = redact.redact_headers({"x-portkey-custom-host": "http://h:port/v1"})
    assert odd["x-portkey-custom-host"] == "http://h:[invalid port]/v1"


def test_a_stream_is_assembled_into_one_completion():
    record = capture.Record(path="/", request_headers={})
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
    logrows.save_batch([record, converted])
    logged = RequestLog.objects.get(request_id=record.request_id).upstream_body
    assert logged["parts"] == [{"data": blob_ref}, {"url": blob_ref}]
    assert logged["system"] == long_text and logged["cjk"] == "長" * 3000
    assert logged["other"] == f"[{len(other_data)} characters of base64 not kept]"
    other = RequestLog.objects.get(request_id=converted.request_id).upstream_body
    assert other == {"data": f"iris-converted:{converted.chat.images[0].sha256}"}


def test_no_upstream_body_is_logged_when_the_clients_bytes_went_as_they_were(tiny_png):
    logrows.save_batch([record_with_image(tiny_png)])
    assert RequestLog.objects.get().upstream_body is None


def test_a_spool_file_another_worker_claimed_is_left_to_it(monkeypatch, tiny_png):
    writer = capture.Writer()
    writer._spool([record_with_image(tiny_png, "theirs")])
    writer._spool([record_with_image(tiny_png, "ours")])
    first, second = sorted(capture.settings.LOG_SPOOL_DIR.glob("*.pickle"))
    worker = os.getppid()  # a live process: another worker's claim
    first.rename(first.with_name(f"{first.name}.{worker}.replaying"))
    writer._replay_spool()
    assert list(RequestLog.objects.values_list("prompt_preview", flat=True)) == ["ours"]
    assert [p.name for p in capture.settings.LOG_SPOOL_DIR.iterdir()] == [
        f"{first.name}.{worker}.replaying"
    ]


def test_a_file_waits_while_the_database_is_down(monkeypatch, tiny_png):
    writer = capture.Writer()
    writer._spool([record_with_image(tiny_png)])
    [path] = capture.settings.LOG_SPOOL_DIR.glob("*.pickle")

    def broken(records):
        raise RuntimeError("database is down")

    monkeypatch.setattr(logrows, "save_batch", broken)
    monkeypatch.setattr(capture, "_database_up", lambda: False)
    writer._replay_spool()
    assert [p.name for p in capture.settings.LOG_SPOOL_DIR.iterdir()] == [path.name]


def test_a_claim_left_by_a_dead_process_is_replayed(tiny_png):
    writer = capture.Writer()
    writer._spool([record_with_image(tiny_png, "orphaned")])
    [path] = capture.settings.LOG_SPOOL_DIR.glob("*.pickle")
    path.rename(path.with_name(f"{path.name}.{_exited_pid()}.replaying"))
    writer._replay_spool()
    assert list(RequestLog.objects.values_list("prompt_preview", flat=True)) == ["orphaned"]
    assert not list(capture.settings.LOG_SPOOL_DIR.iterdir())


def _exited_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
