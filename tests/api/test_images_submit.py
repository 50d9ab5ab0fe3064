"""imageproxy.forward against a real fake Gemini (Imagen) over a socket: the record is handed
to the log only once the client's answer is built. A cancel while the answer is encoded (a
config's request_timeout, a client gone) must leave the record unsubmitted, or the log keeps
a 200 for a target the runner timed out on, and the fallback's answer is never logged."""

import asyncio

import orjson
import pytest

from gateway import http, imageproxy
from gateway.imagejob import GENERATIONS, ImageJob
from gateway.log.record import Record
from gateway.providers.base import Target


@pytest.fixture(autouse=True)
async def _close_sessions():
    yield
    await http.close_sessions()  # the pooled sessions belong to this test's event loop


@pytest.fixture
def submitted(monkeypatch) -> list[Record]:
    records: list[Record] = []
    monkeypatch.setattr(imageproxy.request_log, "submit", records.append)
    return records


def imagen(fake_gemini) -> tuple[ImageJob, Target, Record]:
    job = ImageJob(GENERATIONS, {"model": "imagen-4.0-generate-001", "prompt": "a kite", "n": 1})
    target = Target("google", base_url=fake_gemini.url, api_key="AIza-fake", base_url_trusted=True)
    return job, target, Record(path="/v1/images/generations", request_headers={})


async def test_an_answer_is_submitted_once_with_the_bytes_the_client_gets(fake_gemini, submitted):
    job, target, record = imagen(fake_gemini)
    response = await imageproxy.forward(job, target, record)
    body = orjson.loads(response.content)
    assert response.status_code == 200 and len(body["data"]) == 1
    assert submitted == [record] and record.status_code == 200
    assert record.response_body["data"][0]["b64_json"] == body["data"][0]["b64_json"]


async def test_a_cancel_while_the_answer_is_encoded_leaves_the_record_unsubmitted(
    fake_gemini, submitted, monkeypatch
):
    real = imageproxy.offload.by_size

    async def cancelled_while_encoding(size, fn, *args, **kwargs):
        if fn is orjson.dumps:  # as asyncio.timeout would, at the await on the encoding thread
            asyncio.current_task().cancel()
            await asyncio.sleep(0)
        return await real(size, fn, *args, **kwargs)

    monkeypatch.setattr(imageproxy.offload, "by_size", cancelled_while_encoding)
    job, target, record = imagen(fake_gemini)
    with pytest.raises(asyncio.CancelledError):
        await imageproxy.forward(job, target, record)
    assert submitted == [] and not record.submitted
    assert record.status_code != 200  # the runner's timeout (or fallback) writes this record
