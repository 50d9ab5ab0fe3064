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
