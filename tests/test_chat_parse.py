import base64
import json

import pytest

from gateway.chat import parse_chat
from gateway.errors import GatewayError


def body(**fields) -> bytes:
    return json.dumps(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **fields}
    ).encode()


def image_part(url: str, detail: str | None = None) -> dict:
    spec = {"url": url, **({"detail": detail} if detail else {})}
    return {"type": "image_url", "image_url": spec}


def test_it_resolves_every_image_once_with_its_position(tiny_png):
    uri = "data:image/png;base64," + base64.b64encode(tiny_png).decode()
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, image_part(uri, "high")]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [image_part("https://example.com/cat.jpg")]},
    ]
    chat = parse_chat(body(messages=messages, stream=True, stream_options={"include_usage": True}))
    assert chat.stream and chat.include_usage and chat.model == "gpt-4o"
    first, second = chat.images
    assert (first.message, first.part, first.origin, first.detail) == (1, 1, "base64", "high")
    assert first.data == tiny_png and first.mime == "image/png"
    assert (second.message, second.part, second.origin, second.data) == (3, 0, "url", None)
    assert chat.image(3, 0) is second


def test_it_keeps_the_raw_bytes_for_pass_through():
    raw = body(temperature=0.2, some_future_param={"x": 1})
    assert parse_chat(raw).raw is raw


@pytest.mark.parametrize(
    ("raw", "status_code", "param"),
    [
        (b"{not json", "invalid_json", None),
        (b"[1, 2]", "invalid_json", None),
        (json.dumps({"messages": []}).encode(), "missing_required_parameter", "model"),
        (
            json.dumps({"model": "m", "messages": "hi"}).encode(),
            "missing_required_parameter",
            "messages",
        ),
    ],
)
def test_it_refuses_bad_bodies(raw, status_code, param):
    with pytest.raises(GatewayError) as caught:
        parse_chat(raw)
    assert (caught.value.status, caught.value.code, caught.value.param) == (400, status_code, param)


def test_it_needs_a_role_on_every_message():
    with pytest.raises(GatewayError, match=r"messages\[1\] must be an object with a 'role'"):
        parse_chat(body(messages=[{"role": "user", "content": "a"}, {"content": "b"}]))


def test_it_names_the_message_and_part_of_a_bad_image():
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "x"}, image_part("data:image/png;base64,AAAA")],
        }
    ]
    with pytest.raises(GatewayError) as caught:
        parse_chat(body(messages=messages))
    assert caught.value.message.startswith("messages[0].content[1]: the image is not an image")
    assert caught.value.code == "invalid_image"


def _uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def _parsed(raw: bytes, *, whole: bool = False):
    """What parse_chat gives; whole: without cutting data URIs out of the raw body first."""
    from gateway.chat import _parse

    try:
        chat = _parse(raw, raw, [], 64) if whole else parse_chat(raw)
    except GatewayError as error:
        return ("error", error.code, error.message)
    images = [(i.message, i.part, i.data_uri_prefix, i.data) for i in chat.images]
    return ("chat", chat.body, images)


def _content(*parts) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": list(parts)}]})


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(lambda png: _content(image_part(_uri(png))), id="one image"),
        pytest.param(
            lambda png: _content(image_part(_uri(png)), image_part(_uri(png, "image/x-png"))),
            id="two images",
        ),
        pytest.param(
            lambda png: _content(image_part(_uri(png))).replace("/", "\\/"), id="escaped slashes"
        ),
        pytest.param(
            lambda png: _content({"type": "text", "text": _uri(png)}, image_part(_uri(png))),
            id="a data URI as text",
        ),
        pytest.param(
            lambda png: _content({"type": "text", "text": 'say "' + _uri(png)}), id="after a quote"
        ),
        pytest.param(
            lambda png: json.dumps(
                {"model": "m", "metadata": {_uri(png): "k"}, "messages": [{"role": "user"}]}
            ),
            id="as a key",
        ),
        pytest.param(
            lambda png: _content({"type": "image_url", "image_url": _uri(png)}),
            id="bare string image_url",
        ),
        pytest.param(lambda png: _content(image_part(_uri(png) + "!!")), id="bad base64"),
        pytest.param(lambda png: _content(image_part(_uri(png)[:-3])), id="unpadded"),
        pytest.param(
            lambda png: _content(image_part(_uri(png))).replace("base64,", "base64,\n"),
            id="raw newline (invalid JSON)",
        ),
        pytest.param(lambda png: _content(image_part(_uri(b"not an image"))), id="not an image"),
        pytest.param(
            lambda png: _content(image_part(_uri(png, "image/png;name=a~b"))).replace("~", "\x01"),
            id="control character in the prefix (invalid JSON)",
        ),
        pytest.param(
            lambda png: _content(image_part(_uri(png, "image/png;name=a~b"))).replace("~", "\t"),
            id="raw tab in the prefix (invalid JSON)",
        ),
        pytest.param(lambda png: _content(image_part("data:text/plain,hi")), id="not base64"),
        pytest.param(lambda png: '{"model": "m", "messages": ["data:x', id="truncated"),
    ],
)
def test_cutting_data_uris_out_parses_exactly_as_the_whole_body(raw, tiny_png):
    raw = raw(tiny_png).encode()
    assert _parsed(raw) == _parsed(raw, whole=True)


def test_a_cut_out_data_uri_is_decoded_from_the_raw_bytes(tiny_png):
    from gateway.chat import DECODED_IMAGE, _lift_data_uris

    raw = _content({"type": "text", "text": "hi"}, image_part(_uri(tiny_png), "low")).encode()
    skeleton, lifted = _lift_data_uris(raw)
    assert len(skeleton) < len(raw) - len(base64.b64encode(tiny_png)) + 60
    assert [bytes(view) for view in lifted] == [_uri(tiny_png).encode()]
    assert lifted[0].obj is raw  # a view, not a copy
    chat = parse_chat(raw)
    assert chat.images[0].data == tiny_png and chat.images[0].detail == "low"
    assert chat.body["messages"][0]["content"][1]["image_url"]["url"] == DECODED_IMAGE


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": ["hi"]}]}, "messages.0.content.0"),
        ({"tools": ["x"]}, "tools"),
        ({"tools": {"type": "function"}}, "tools"),
        (
            {"messages": [{"role": "user", "content": [image_part("https://x.test/a.png", 5)]}]},
            "messages.0.content.0.image_url",
        ),
    ],
)
def test_it_refuses_content_and_tools_of_the_wrong_shape(fields, param):
    with pytest.raises(GatewayError) as caught:
        parse_chat(body(**fields))
    assert (caught.value.status, caught.value.param) == (400, param)


def test_a_bare_string_image_url_becomes_openais_object(tiny_png):
    raw = _content({"type": "image_url", "image_url": "https://x.test/a.png"}).encode()
    part = parse_chat(raw).body["messages"][0]["content"][0]
    assert part["image_url"] == {"url": "https://x.test/a.png"}


@pytest.mark.parametrize("depth", [65, 300, 1000, 5000])
def test_a_body_nested_deeper_than_the_limit_is_refused(depth):
    extra = b"[" * depth + b"]" * depth
    raw = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "x": ' + extra + b"}"
    with pytest.raises(GatewayError) as caught:
        parse_chat(raw, max_depth=64)
    assert caught.value.status == 400 and caught.value.code == "json_too_deep"
    assert "64 levels" in caught.value.message


def test_a_body_at_the_depth_limit_is_accepted():
    extra = b"[" * 63 + b"]" * 63  # 63 levels inside the top-level object: 64 in all
    raw = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "x": ' + extra + b"}"
    assert parse_chat(raw, max_depth=64).model == "m"
