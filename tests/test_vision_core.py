"""The shared arithmetic of gateway/vision.py and the preflight of gateway/estimate.py."""

from gateway import estimate, vision
from gateway.images import Image
from gateway.vision import Grid, Limits, Seen


def _img(width, height, size=1000, mime="image/png", **kw) -> Image:
    img = Image(message=0, part=0, origin="base64", **kw)
    img.data, img.mime, img.width, img.height = b"x" * size, mime, width, height
    return img


def test_resizing_helpers_only_ever_downscale_and_keep_the_aspect_ratio():
    assert vision.fit_within(4000, 3000, 2048, 2048) == (2048, 1536)
    assert vision.fit_within(100, 50, 2048, 2048) == (100, 50)
    assert vision.shortest_side_at_most(2048, 1536, 768) == (1024, 768)
    assert vision.shortest_side_at_most(500, 400, 768) == (500, 400)
    assert vision.longest_side_at_most(3136, 1000, 1568) == (1568, 500)
    assert vision.pixels_at_most(2000, 2000, 1_000_000) == (1000, 1000)
    assert vision.fit_within(100_000, 1, 2048, 2048) == (2048, 1)  # never below one pixel
    assert vision.fit_within(5000, 100, 3072, 3072) == (3072, 61)  # no pixel lost to float error
    assert vision.cells(1024, 768, 512) == (2, 2)
    assert vision.cells(1025, 768, 512) == (3, 2)


def test_warnings_say_what_the_developer_should_know():
    seen = Seen(400, 300, 85, Grid("tiles", 1, 1, 512, 170, 85))
    notes = vision.warnings(seen, width=4000, height=3000, frames=12, exif_orientation=6)
    assert "downscaled 10.0×: small text may be unreadable" in notes
    assert "animated (12 frames): only the first frame is sent" in notes
    assert "EXIF rotation: the provider will see it sideways" in notes
    upside = vision.warnings(Seen(10, 10, 1), width=10, height=10, exif_orientation=3)
    assert upside == ["EXIF rotation: the provider will see it upside down"]
    low = vision.warnings(Seen(512, 384, 85), width=512, height=384, detail="low")
    assert low == ["detail: low — the model saw 512 px"]
    assert vision.downscale_factor(vision.unknown("no rule"), 100, 100) is None


def test_preflight_names_each_image_and_the_limit_it_breaks():
    rules = Limits(
        max_images=2,
        max_image_bytes=5000,
        max_side=8000,
        formats=frozenset({"image/png", "image/jpeg"}),
        max_request_bytes=9000,
        many_images=1,
        many_max_side=2000,
    )
    images = [
        _img(100, 100, size=6000),
        _img(3000, 100, mime="image/gif"),
        _img(100, 100, size=4000),
    ]
    estimates = [estimate.ImageEstimate(img, Seen(1, 1, 1), []) for img in images]
    problems = {(p.image, p.limit) for p in estimate.preflight(estimates, rules)}
    assert problems == {
        (None, "max_images=2"),
        (0, "max_image_bytes=5000"),
        (1, "formats"),
        (1, "max_side=2000"),  # past `many_images` images, the tighter side applies
        (None, "max_request_bytes=9000"),
    }
    assert estimate.preflight(estimates[2:], rules) == []


def test_an_unknown_provider_or_unsized_image_is_unknown_not_zero():
    found = estimate.estimate("nonesuch", "m", [_img(10, 10)], ["hello world!"])
    assert found.images[0].seen.tokens is None
    assert found.prompt_tokens is None
    assert found.text_tokens == 3
    unsized = _img(None, None)
    assert estimate.seen("openai", "gpt-4o", unsized).tokens is None


def test_the_text_of_each_api_is_counted_once(monkeypatch):
    from gateway import tokens

    monkeypatch.setattr(tokens, "_enabled", True)  # GATEWAY_TOKENIZER=tiktoken
    from gateway.chat import parse_chat
    from gateway.imagejob import ImageJob
    from gateway.responses.request import parse_request

    chat = parse_chat(b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}')
    assert estimate.request_texts(chat) == []  # its messages: counted from the body
    found = estimate.estimate("openai", "gpt-4o", [], [], chat.body)
    assert found.text_method.startswith("tiktoken") and found.text_tokens > 0
    responses = parse_request(
        b'{"model": "m", "instructions": "Be brief.", "input": [{"role": "user",'
        b' "content": [{"type": "input_text", "text": "What is this?"}]}]}'
    )
    assert estimate.request_texts(responses) == ["Be brief.", "What is this?"]
    job = ImageJob("images.generations", {"model": "gpt-image-1", "prompt": "A red fox"})
    assert estimate.request_texts(job) == ["A red fox"]


def test_a_defect_the_bytes_show_is_a_warning():
    img = _img(100, 100)
    img.problem = "the image looks truncated: the JPEG has no end-of-image marker (FFD9)"
    found = estimate.estimate("nonesuch", "m", [img], [])
    assert found.images[0].warnings == [img.problem]
