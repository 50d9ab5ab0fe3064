"""Image-aware routing over real sockets: a target whose preflight refuses an image is skipped
without a round trip, and each target gets the image as it should have it, whatever an
earlier, failed target did to it (auto-fit, conversion)."""

import base64
import io

from PIL import Image as PILImage

from tests.configs.routing import answer, anthropic_leaf, attempts, chat, openai_leaf, user
from tests.conftest import SHARED_IMAGES, png_bytes
from tests.fakes.cued import Cued

HUBBLE = (SHARED_IMAGES / "hubble_deep_field.jpg").read_bytes()  # 1000×872
HUBBLE_URI = "data:image/jpeg;base64," + base64.b64encode(HUBBLE).decode()


def fallback(*targets) -> dict:
    return {"strategy": {"mode": "fallback"}, "targets": list(targets)}


def anthropic_image(received) -> PILImage.Image:
    [block] = [b for b in received.json()["messages"][0]["content"] if b["type"] == "image"]
    return PILImage.open(io.BytesIO(base64.b64decode(block["source"]["data"])))


def openai_image(received) -> PILImage.Image:
    url = received.json()["messages"][0]["content"][1]["image_url"]["url"]
    return PILImage.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_an_image_too_large_for_anthropic_skips_it_without_a_round_trip(
    routing_iris, cued_openai, cued_anthropic
):
    wide = png_bytes(size=(8001, 40))  # over Anthropic's 8000 px side; OpenAI takes it
    uri = "data:image/png;base64," + base64.b64encode(wide).decode()
    config = fallback(anthropic_leaf(cued_anthropic), openai_leaf(cued_openai))
    response = chat(routing_iris, config, user("wide", uri))
    assert answer(response) == "I see 1 image(s). You said: wide"
    assert cued_anthropic.cued.calls == []  # never asked
    assert len(cued_openai.cued.calls) == 1
    assert response.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    skipped, used = attempts(routing_iris, response.headers["x-iris-request-id"])
    assert skipped["target"] == "config.targets[0]" and skipped["provider"] == "anthropic"
    assert "8001" in skipped["skipped"] and "8000" in skipped["skipped"]
    assert skipped["status"] == 400
    assert (used["provider"], used["status"], used["fell_back"]) == ("openai", 200, True)
    assert "skipped" not in used


def test_a_skip_with_nowhere_else_to_go_answers_the_preflight_400(routing_iris, cued_anthropic):
    wide = png_bytes(size=(8001, 40))
    uri = "data:image/png;base64," + base64.b64encode(wide).decode()
    response = chat(routing_iris, anthropic_leaf(cued_anthropic), user("wide", uri))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "image_too_large"
    assert cued_anthropic.cued.calls == []


def test_the_fallback_gets_the_original_image_not_the_first_targets_fitted_copy(
    routing_iris, cued_openai, cued_anthropic
):
    # Auto-fit for OpenAI at detail low shrinks the image to 512 px; Anthropic sees all of a
    # 1000×872 image (under its 1568 px, 1.15 MP), so it must get the original.
    cued_openai.cued.cue(Cued.error(500))
    config = fallback(openai_leaf(cued_openai), anthropic_leaf(cued_anthropic))
    response = chat(
        routing_iris,
        config,
        user("fit?", HUBBLE_URI, detail="low"),
        headers={"x-iris-image-fit": "auto"},
    )
    assert answer(response) == "I see 1 image(s). You said: fit?"
    assert max(openai_image(cued_openai.cued.calls[0].request).size) <= 512
    assert anthropic_image(cued_anthropic.cued.calls[0].request).size == (1000, 872)


def test_each_target_gets_its_own_fit(routing_iris, cued_openai, cued_anthropic):
    # The other way round: Anthropic fails, OpenAI (detail low) gets its own 512 px copy.
    cued_anthropic.cued.cue(Cued.error(500))
    config = fallback(anthropic_leaf(cued_anthropic), openai_leaf(cued_openai))
    response = chat(
        routing_iris,
        config,
        user("fit?", HUBBLE_URI, detail="low"),
        headers={"x-iris-image-fit": "auto"},
    )
    assert answer(response)
    assert anthropic_image(cued_anthropic.cued.calls[0].request).size == (1000, 872)
    assert max(openai_image(cued_openai.cued.calls[0].request).size) <= 512
    assert response.headers["x-iris-image-fit"].startswith("auto; fitted=1/1")


def test_a_retry_to_openai_sends_the_image_again(routing_iris, cued_openai):
    cued_openai.cued.cue(Cued.error(503))
    config = openai_leaf(cued_openai, retry={"attempts": 1})
    response = chat(routing_iris, config, user("again", HUBBLE_URI))
    assert answer(response) == "I see 1 image(s). You said: again"
    first, second = (c.request.json() for c in cued_openai.cued.calls)
    assert first == second
    assert second["messages"][0]["content"][1]["image_url"]["url"] == HUBBLE_URI


def test_a_skip_moves_on_whatever_the_fallbacks_status_codes(
    routing_iris, cued_openai, cued_anthropic
):
    # on_status_codes names the upstream answers that fall back; a target skipped before any
    # round trip gave none, and the next target is what the config offers instead.
    wide = png_bytes(size=(8001, 40))
    uri = "data:image/png;base64," + base64.b64encode(wide).decode()
    config = fallback(anthropic_leaf(cued_anthropic), openai_leaf(cued_openai))
    config["strategy"]["on_status_codes"] = [429, 500, 503]
    response = chat(routing_iris, config, user("wide", uri))
    assert answer(response) == "I see 1 image(s). You said: wide"
    assert cued_anthropic.cued.calls == [] and len(cued_openai.cued.calls) == 1
