"""replay(): the stored bytes of every image go upstream again, through the request path."""

import base64

import pytest
from asgiref.sync import sync_to_async

from gateway.errors import GatewayError
from replays.core import METADATA_KEY, replay
from replays.models import Replay
from tests.replays.conftest import written
from tests.ui.logs import UrlImage, make_log, png

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("closing_sessions")]


def sent_images(received) -> list[bytes]:
    """The bytes of each data-URI image an OpenAI-style upstream received."""
    out = []
    for message in received.json()["messages"]:
        for part in message["content"] if isinstance(message["content"], list) else ():
            if part.get("type") == "image_url":
                url = part["image_url"]["url"]
                assert url.startswith("data:image/"), url[:40]
                out.append(base64.b64decode(url.split(",", 1)[1]))
    return out


def openai_headers(fake) -> dict:
    return {"x-portkey-custom-host": f"{fake.url}/v1", "authorization": "Bearer sk-test"}


async def test_it_sends_the_stored_bytes_of_a_base64_image(fake_openai):
    image = png((9, 5), (1, 2, 3))
    log = await sync_to_async(make_log)("Describe it", images=[image])
    done = await replay(log, provider="openai", headers=openai_headers(fake_openai), user="ana")
    assert done.status == 200, done.response
    assert sent_images(fake_openai.received[-1]) == [image]
    assert "I see 1 image(s). You said: Describe it" in str(done.response)
    row = await written(done.request_id)
    assert row.metadata[METADATA_KEY] == log.request_id
    assert row.image_count == 1
    link = await Replay.objects.aget(request_id=done.request_id)
    assert (link.original_id, link.user) == (log.id, "ana")


async def test_a_url_image_is_sent_from_its_snapshot_not_fetched_again(fake_openai):
    kept = png((7, 7), (250, 0, 0))
    gone = "http://127.0.0.1:9/was-here.png"  # nothing listens: a refetch would fail
    log = await sync_to_async(make_log)(images=[UrlImage(gone, data=kept)])
    done = await replay(log, provider="openai", headers=openai_headers(fake_openai))
    assert done.status == 200, done.response
    assert sent_images(fake_openai.received[-1]) == [kept]


async def test_model_and_overrides_change_the_body(fake_openai):
    log = await sync_to_async(make_log)("old text", images=[png()], stream=True)
    messages = [{"role": "user", "content": "new text"}]
    done = await replay(
        log,
        provider="openai",
        model="gpt-4.1-mini",
        overrides={"messages": messages, "temperature": 0.5},
        headers=openai_headers(fake_openai),
    )
    sent = fake_openai.received[-1].json()
    assert (sent["model"], sent["messages"], sent["temperature"]) == (
        "gpt-4.1-mini",
        messages,
        0.5,
    )
    assert "stream" not in sent  # a stream record is replayed whole
    assert done.response["choices"][0]["message"]["content"].endswith("You said: new text")


async def test_an_image_gone_from_storage_is_a_409(settings, tmp_path):
    log = await sync_to_async(make_log)(images=[png()])
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "empty")},
        },
    }
    with pytest.raises(GatewayError) as caught:
        await replay(log, provider="openai")
    assert caught.value.status == 409 and caught.value.code == "image_not_stored"


async def test_a_responses_record_is_replayed_with_its_image_bytes(fake_responses):
    from tests.ui.logs import data_uri, make_responses_log

    image = png((3, 8), (9, 9, 9))
    body = {
        "model": "gpt-4.1",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What colour?"},
                    {"type": "input_image", "image_url": data_uri(image), "detail": "low"},
                ],
            }
        ],
    }
    log = await sync_to_async(make_responses_log)(body, provider="openai")
    headers = {"x-portkey-custom-host": f"{fake_responses.url}/v1", "authorization": "Bearer sk-x"}
    done = await replay(log, provider="openai", headers=headers)
    assert done.status == 200, done.response
    part = fake_responses.received[-1].json()["input"][0]["content"][1]
    assert base64.b64decode(part["image_url"].split(",", 1)[1]) == image
    assert part["detail"] == "low"
    assert (await written(done.request_id)).endpoint == "responses"


async def test_an_image_generation_is_replayed(fake_openai):
    from tests.ui.logs import make_image_log

    log = await sync_to_async(make_image_log)("A red fox", outputs=[png()])
    done = await replay(log, provider="openai", headers=openai_headers(fake_openai))
    assert done.status == 200, done.response
    assert fake_openai.received[-1].path.endswith("/images/generations")
    assert fake_openai.received[-1].json()["prompt"] == "A red fox"


async def test_an_image_edit_is_refused_with_what_can_be_replayed():
    from tests.ui.logs import make_image_log

    log = await sync_to_async(make_image_log)(endpoint="images.edits", inputs=[png()])
    with pytest.raises(GatewayError) as caught:
        await replay(log, provider="openai")
    assert caught.value.status == 400 and caught.value.code == "not_replayable"
    assert "chat completions, Responses API requests and image generations" in caught.value.message


async def test_a_stream_is_replayed_as_one_when_asked(fake_openai):
    log = await sync_to_async(make_log)("Stream it")
    done = await replay(
        log, provider="openai", overrides={"stream": True}, headers=openai_headers(fake_openai)
    )
    assert fake_openai.received[-1].json()["stream"] is True
    assert done.response["choices"][0]["message"]["content"].endswith("You said: Stream it")
    assert (await written(done.request_id)).is_stream


async def test_a_failed_replay_is_answered_and_logged(fake_openai):
    log = await sync_to_async(make_log)()
    done = await replay(log, provider="@nowhere")
    assert done.status == 404 and done.response["error"]["code"] == "provider_not_found"
    row = await written(done.request_id)
    assert row.status_code == 404 and row.metadata[METADATA_KEY] == log.request_id


async def test_a_pdf_goes_again_as_its_stored_bytes(fake_openai):
    from tests.ui.logs import pdf

    document = pdf((20, 20, (1, 2, 3)))
    log = await sync_to_async(make_log)("Summarise", files=[(document, "a.pdf")])
    done = await replay(log, provider="openai", headers=openai_headers(fake_openai))
    assert done.status == 200, done.response
    part = fake_openai.received[-1].json()["messages"][0]["content"][1]
    assert part["file"]["file_data"].startswith("data:application/pdf;base64,")
    assert base64.b64decode(part["file"]["file_data"].split(",", 1)[1]) == document
    assert part["file"]["filename"] == "a.pdf"
