"""A replay's overrides may name stored blobs (`iris-blob:<sha256>`): how many, and how many
bytes they inline, are bounded like a client's request, before any blob is read."""

import pytest
from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage

from gateway.errors import GatewayError
from replays import body as replay_body
from replays.core import replay
from tests.ui.logs import make_log, png

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("closing_sessions")]


def ref_of(log) -> str:
    """The `iris-blob:<sha256>` reference the log's stored body has for its image."""
    return next(p["image_url"]["url"] for p in log.request_body["messages"][-1]["content"][1:])


def asking(ref: str, times: int) -> dict:
    parts = [{"type": "image_url", "image_url": {"url": ref}} for _ in range(times)]
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, *parts]}]}


class _Reading:
    """default_storage as replays.body sees it, noting each file opened."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def open(self, name, *args, **kwargs):
        self.opened.append(name)
        return default_storage.open(name, *args, **kwargs)


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The blob files read from storage."""
    storage = _Reading()
    monkeypatch.setattr(replay_body, "default_storage", storage)
    return storage.opened


async def test_more_references_than_a_request_may_have_images_are_refused_unread(settings, reads):
    settings.GATEWAY_MAX_IMAGES_PER_REQUEST = 3
    log = await sync_to_async(make_log)(images=[png()])
    with pytest.raises(GatewayError) as caught:
        await replay(log, provider="openai", overrides=asking(ref_of(log), 4))
    assert caught.value.status == 400 and caught.value.code == "too_many_images"
    assert "4 stored images" in caught.value.message and "at most 3" in caught.value.message
    assert "GATEWAY_MAX_IMAGES_PER_REQUEST" in caught.value.message
    assert reads == []


async def test_references_whose_bytes_outgrow_the_body_limit_are_refused_unread(settings, reads):
    image = png((64, 64), (9, 9, 9))
    log = await sync_to_async(make_log)(images=[image])
    settings.GATEWAY_MAX_BODY_BYTES = 10 * len(image)  # ten copies' raw bytes; base64 is 4/3
    with pytest.raises(GatewayError) as caught:
        await replay(log, provider="openai", overrides=asking(ref_of(log), 10))
    assert caught.value.status == 400 and caught.value.code == "request_too_large"
    assert "GATEWAY_MAX_BODY_BYTES" in caught.value.message
    assert reads == []


async def test_references_within_both_limits_are_inlined(settings, reads):
    settings.GATEWAY_MAX_IMAGES_PER_REQUEST = 3
    log = await sync_to_async(make_log)(images=[png()])
    body = await sync_to_async(replay_body.replay_body)(log, None, asking(ref_of(log), 3))
    urls = [p["image_url"]["url"] for p in body["messages"][0]["content"][1:]]
    assert len(urls) == 3 and all(u.startswith("data:image/png;base64,") for u in urls)
    assert len(reads) == 1  # one blob, read once
