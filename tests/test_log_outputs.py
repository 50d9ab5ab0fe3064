"""Images a model made, in the log: stored once as blobs, linked as outputs in order, partial
images apart, the answer's base64 replaced by references, an edit's inputs and mask kept."""

import base64
import json

import pytest
from django.core.files.storage import default_storage

from gateway import log as request_log
from gateway.imagejob import EDITS, GENERATIONS, parse_image_job
from gateway.log.entry import save_records
from gateway.models import Blob, LogImage, RequestLog, blob_name
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path, blob_dir):
    settings.LOG_SPOOL_DIR = tmp_path / "spool"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def generation(body: dict, answer: dict | None, **fields) -> request_log.Record:
    record = request_log.Record(path="/v1/images/generations", request_headers={})
    record.endpoint = GENERATIONS
    record.chat = parse_image_job(GENERATIONS, json.dumps(body).encode(), "application/json")
    for name, value in fields.items():
        setattr(record, name, value)
    record.finish(200, answer)
    return record


def stored(sha: str) -> bytes:
    with default_storage.open(blob_name(sha)) as f:
        return f.read()


def test_generated_images_are_stored_in_order_and_referenced_from_the_answer():
    first, second = png_bytes((8, 6), (10, 20, 30)), png_bytes((6, 8), (200, 0, 0))
    answer = {
        "created": 1,
        "data": [
            {"b64_json": b64(first), "revised_prompt": "a cat, oil on canvas"},
            {"b64_json": b64(second)},
        ],
        "usage": {"input_tokens": 12, "output_tokens": 4160, "total_tokens": 4172},
    }
    save_records([generation({"model": "gpt-image-2", "prompt": "a cat", "n": 2}, answer)])
    log = RequestLog.objects.get()
    assert (log.endpoint, log.output_image_count, log.image_count) == (GENERATIONS, 2, 0)
    assert (log.prompt_tokens, log.completion_tokens, log.total_tokens) == (12, 4160, 4172)
    assert log.prompt_preview == "a cat"
    assert log.reply_preview == "a cat, oil on canvas"
    assert "oil on canvas" in log.search_text
    outputs = list(LogImage.objects.filter(log=log, role="output").order_by("part_index"))
    assert [stored(o.blob_id) for o in outputs] == [first, second]
    assert [(o.blob.width, o.blob.height, o.blob.mime) for o in outputs] == [
        (8, 6, "image/png"),
        (6, 8, "image/png"),
    ]
    data = log.response_body["data"]
    assert [d["b64_json"] for d in data] == [f"iris-blob:{o.blob_id}" for o in outputs]
    assert data[0]["revised_prompt"] == "a cat, oil on canvas"
    assert log.request_body == {"model": "gpt-image-2", "prompt": "a cat", "n": 2}


def test_partial_images_are_kept_apart_from_the_outputs():
    final, partial = png_bytes((4, 4), (1, 2, 3)), png_bytes((4, 4), (9, 9, 9))
    answer = {"created": 1, "data": [{"b64_json": b64(final)}]}
    record = generation(
        {"model": "gpt-image-2", "prompt": "p", "stream": True, "partial_images": 2},
        answer,
        partial_images=[(0, 0, b64(partial)), (0, 1, b64(final))],
    )
    save_records([record])
    log = RequestLog.objects.get()
    assert log.output_image_count == 1
    partials = LogImage.objects.filter(log=log, role="partial").order_by("partial_index")
    assert [(p.part_index, p.partial_index) for p in partials] == [(0, 0), (0, 1)]
    assert stored(partials[0].blob_id) == partial
    # the last partial and the output are the same bytes: one blob
    assert Blob.objects.count() == 2


def test_an_image_stream_is_assembled_from_its_events(settings):
    final, partial = png_bytes((4, 4), (1, 2, 3)), png_bytes((4, 4), (9, 9, 9))
    record = request_log.Record(path="/v1/images/generations", request_headers={})
    record.endpoint = GENERATIONS
    record.add_chunk(
        {
            "type": "image_generation.partial_image",
            "b64_json": b64(partial),
            "partial_image_index": 0,
        }
    )
    usage = {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}
    record.add_chunk(
        {
            "type": "image_generation.completed",
            "b64_json": b64(final),
            "created_at": 42,
            "size": "1024x1024",
            "usage": usage,
        }
    )
    body = record.assembled()
    assert body == {
        "created": 42,
        "size": "1024x1024",
        "data": [{"b64_json": b64(final)}],
        "usage": usage,
    }
    assert record.partial_images == [(0, 0, b64(partial))]
    assert record.chunk_count == 2 and record.ttft_ms is not None


def test_partial_images_past_the_byte_budget_are_counted_not_kept(settings):
    settings.GATEWAY_MAX_RESPONSE_BYTES = 100
    record = request_log.Record(path="/v1/images/generations", request_headers={})
    record.endpoint = GENERATIONS
    for i in range(3):
        event = {"type": "image_generation.partial_image", "b64_json": "A" * 40}
        record.add_chunk({**event, "partial_image_index": i})
    assert len(record.partial_images) == 2 and record.images_not_kept == 1
    assert record.assembled()["iris_images_not_kept"] == 1


def test_an_edit_keeps_its_images_and_mask_as_inputs():
    image, mask = png_bytes((8, 8), (0, 0, 255)), png_bytes((8, 8), mode="RGBA")
    body = {
        "model": "gpt-image-2",
        "prompt": "add a hat",
        "images": [{"image_url": f"data:image/png;base64,{b64(image)}"}],
        "mask": {"image_url": f"data:image/png;base64,{b64(mask)}"},
    }
    record = request_log.Record(path="/v1/images/edits", request_headers={})
    record.endpoint = EDITS
    record.chat = parse_image_job(EDITS, json.dumps(body).encode(), "application/json")
    record.finish(200, {"created": 1, "data": [{"b64_json": b64(png_bytes((8, 8)))}]})
    save_records([record])
    log = RequestLog.objects.get()
    roles = list(LogImage.objects.filter(log=log).values_list("role", "part_index"))
    assert sorted(roles) == [("input", 0), ("mask", 1), ("output", 0)]
    assert log.image_count == 2 and log.output_image_count == 1
    input_sha = LogImage.objects.get(log=log, role="input").blob_id
    mask_sha = LogImage.objects.get(log=log, role="mask").blob_id
    assert log.request_body["image"] == [f"iris-blob:{input_sha}"]
    assert log.request_body["mask"] == f"iris-blob:{mask_sha}"
    assert stored(mask_sha) == mask


def test_pictures_in_a_chat_reply_are_outputs():
    picture = png_bytes((5, 5), (0, 255, 0))
    record = request_log.Record(path="/v1/chat/completions", request_headers={})
    record.chat = None
    url = f"data:image/png;base64,{b64(picture)}"
    item = {"type": "image_url", "image_url": {"url": url}, "index": 0}
    message = {"role": "assistant", "content": "Here it is.", "images": [item]}
    record.finish(200, {"choices": [{"index": 0, "message": message}]})
    save_records([record])
    log = RequestLog.objects.get()
    output = LogImage.objects.get(log=log, role="output")
    assert (output.message_index, output.part_index) == (0, 0)
    assert stored(output.blob_id) == picture
    kept = log.response_body["choices"][0]["message"]["images"][0]
    ref = {"url": f"iris-blob:{output.blob_id}"}
    assert kept == {"type": "image_url", "image_url": ref, "index": 0}
    assert log.reply_preview == "Here it is." and log.output_image_count == 1


def test_an_svg_output_is_kept_and_broken_base64_is_an_error_not_a_lost_record():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'
    answer = {
        "created": 1,
        "output_format": "svg",
        "data": [{"b64_json": b64(svg)}, {"b64_json": "not base64!"}],
    }
    save_records([generation({"model": "gpt-image-2", "prompt": "an icon"}, answer)])
    log = RequestLog.objects.get()
    svg_row, broken = LogImage.objects.filter(log=log, role="output").order_by("part_index")
    assert svg_row.blob.mime == "image/svg+xml" and svg_row.error == ""
    assert stored(svg_row.blob_id) == svg
    assert broken.blob_id is None and "could not be decoded" in broken.error
    assert log.response_body["data"][1]["b64_json"] == "not base64!"


def test_an_error_answer_has_no_outputs():
    record = generation({"model": "gpt-image-2", "prompt": "p"}, None)
    record.status_code, record.response_body = 400, {"error": {"message": "no"}}
    save_records([record])
    log = RequestLog.objects.get()
    assert log.output_image_count == 0 and not LogImage.objects.filter(log=log).exists()
