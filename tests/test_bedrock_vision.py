"""Bedrock's image rules (gateway/providers/bedrock_vision.py): model ids, each family's
documented rule against its worked examples, and the Converse API's limits, checked against
botocore's own service model. Docs read 2026-11-26 (URLs in the module)."""

import gzip
import json
from pathlib import Path

import botocore
import pytest

from gateway import estimate
from gateway.images import Image
from gateway.providers import anthropic_vision as av
from gateway.providers import bedrock_vision as bv
from gateway.vision import Grid


@pytest.mark.parametrize(
    ("model", "provider", "name", "geo", "kind"),
    [
        (
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "anthropic", "claude-3-5-sonnet-20241022-v2:0", "", "",
        ),
        (
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic", "claude-sonnet-4-5-20250929-v1:0", "us", "",
        ),
        ("eu.amazon.nova-pro-v1:0", "amazon", "nova-pro-v1:0", "eu", ""),
        ("apac.meta.llama3-2-11b-instruct-v1:0", "meta", "llama3-2-11b-instruct-v1:0", "apac", ""),
        ("global.anthropic.claude-opus-4-7", "anthropic", "claude-opus-4-7", "global", ""),
        (
            "us-gov.anthropic.claude-3-haiku-20240307-v1:0",
            "anthropic", "claude-3-haiku-20240307-v1:0", "us-gov", "",
        ),
        ("jp.amazon.nova-2-lite-v1:0", "amazon", "nova-2-lite-v1:0", "jp", ""),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-7-v1:0",
            "anthropic", "claude-opus-4-7-v1:0", "us", "inference-profile",
        ),
        (
            "arn:aws:bedrock:eu-west-1::foundation-model/mistral.pixtral-large-2502-v1:0",
            "mistral", "pixtral-large-2502-v1:0", "", "foundation-model",
        ),
        (
            "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:application-inference-profile/a1b2c3d4",
            "", "", "", "application-inference-profile",
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123",
            "", "", "", "provisioned-model",
        ),
        ("  Amazon.Nova-Lite-V1:0 ", "amazon", "nova-lite-v1:0", "", ""),
        ("claude-sonnet-4-5", "", "claude-sonnet-4-5", "", ""),
    ],
)  # fmt: skip
def test_model_ids_prefixes_and_arns(model, provider, name, geo, kind):
    assert bv.parse(model) == bv.BedrockModel(provider, name, geo, kind)


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("anthropic.claude-haiku-4-5-20251001-v1:0", "claude"),
        ("us.anthropic.claude-opus-4-7-v1", "claude"),
        ("amazon.nova-pro-v1:0", "nova"),
        ("us.amazon.nova-lite-v1:0", "nova"),
        ("amazon.nova-premier-v1:0", "nova"),
        ("amazon.nova-micro-v1:0", None),  # text only
        ("global.amazon.nova-2-lite-v1:0", "nova2"),
        ("amazon.nova-2-pro-preview-20251202-v1:0", None),  # NOVA2's page covers Lite only
        ("meta.llama3-2-90b-instruct-v1:0", "llama3.2-vision"),
        ("us.meta.llama3-2-11b-instruct-v1:0", "llama3.2-vision"),
        ("meta.llama3-2-3b-instruct-v1:0", None),  # text only
        ("us.meta.llama4-maverick-17b-instruct-v1:0", None),
        ("meta.llama4-scout-17b-instruct-v1:0", None),
        ("mistral.pixtral-large-2502-v1:0", None),
        ("cohere.command-r-plus-v1:0", None),
        ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/x1", None),
    ],
)
def test_families(model, family):
    assert bv.family(model) == family


def test_claude_on_bedrock_follows_anthropics_rule_by_version():
    # The vision page's 1920x1080 row: 1456x819 and 1560 tokens on the standard tier, not
    # resized and 2691 tokens on Claude 4.7 and later.
    std = bv.seen("us.anthropic.claude-sonnet-4-5-20250929-v1:0", 1920, 1080, None, {})
    assert (std.width, std.height, std.tokens) == (1456, 819, 1560)
    assert std == av.seen("claude-sonnet-4-5", 1920, 1080, None, {})
    high = bv.seen("global.anthropic.claude-opus-4-7", 1920, 1080, None, {})
    assert (high.width, high.height, high.tokens) == (1920, 1080, 2691)
    arn = "arn:aws:bedrock:us-east-1:1:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0"
    assert bv.seen(arn, 3840, 2160, None, {}).tokens == 1560
    assert bv.seen("anthropic.claude-v2:1", 100, 100, None, {}).tokens is None  # text only


@pytest.mark.parametrize(
    ("size", "seen", "tokens"),
    [
        # NOVA's table, each row either way round (its header says "HxW or WxH").
        ((900, 450), (900, 450), 800),
        ((450, 900), (450, 900), 800),
        ((900, 900), (900, 900), 1300),
        ((1400, 900), (1400, 900), 1800),
        ((900, 1400), (900, 1400), 1800),
        ((1800, 900), (1800, 900), 2400),
        ((1300, 1300), (1300, 1300), 2600),
        # NOVA's worked example: 800x400 keeps 1:2, "the closest resolution is 900x450".
        ((800, 400), (900, 450), 800),
        ((400, 800), (450, 900), 800),
        # The same reading for the 1:1 rows: a smaller square goes to 900x900.
        ((512, 512), (900, 900), 1300),
        ((700, 650), (900, 900), 1300),
    ],
)
def test_nova_by_aws_table(size, seen, tokens):
    found = bv.seen("us.amazon.nova-pro-v1:0", *size, None, {})
    assert ((found.width, found.height), found.tokens) == (seen, tokens)
    assert found.grid is None
    assert "approximate" in found.rule


@pytest.mark.parametrize(
    "size",
    [
        (1000, 500),  # 1:2 but larger than 900x450 and not 1800x900
        (1920, 1080),
        (4000, 3000),
        (640, 427),  # closest ratio 2:3: no row of that ratio
        (1200, 1200),  # between 900x900 and 1300x1300
        (2600, 2600),  # past the largest row
        (3000, 1000),  # 1:3: no row
    ],
)
def test_nova_between_the_rows_is_unknown(size):
    found = bv.seen("amazon.nova-lite-v1:0", *size, None, {})
    assert (found.width, found.height, found.tokens) == (None, None, None)
    assert "between the rows" in found.rule


def test_nova_2_lite_is_a_flat_230_tokens():
    for size in ((1, 1), (800, 400), (8000, 8000)):
        found = bv.seen("global.amazon.nova-2-lite-v1:0", *size, None, {})
        assert (found.width, found.height, found.tokens) == (None, None, 230)


@pytest.mark.parametrize(
    ("size", "cols", "rows"),
    [
        ((559, 559), 1, 1),  # 1601, the least the docs give
        ((560, 560), 1, 1),  # 560 // 560 = 1
        ((1119, 300), 1, 1),  # 1119 // 560 = 1: floor division, not "wider than 560"
        ((1120, 559), 2, 1),  # 3202
        ((500, 2000), 1, 2),
        ((4000, 3000), 2, 2),  # 6404, the most the docs give: capped at two a side
    ],
)
def test_llama_32_vision_by_aws_formula(size, cols, rows):
    found = bv.seen("us.meta.llama3-2-90b-instruct-v1:0", *size, None, {})
    assert found.tokens == cols * rows * 1601
    assert found.grid == Grid("tiles", cols, rows, 560, 1601)
    assert (found.width, found.height) == (None, None)  # the tiles' pixels are not documented
    assert "fine-tuning" in found.rule


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("amazon.nova-micro-v1:0", "reads text only"),
        ("meta.llama3-2-1b-instruct-v1:0", "read text only"),
        ("us.meta.llama4-maverick-17b-instruct-v1:0", "documents an image rule"),
        ("mistral.pixtral-large-2502-v1:0", "documents an image rule"),
        ("arn:aws:bedrock:us-east-1:1:application-inference-profile/x1", "does not name its model"),
        ("arn:aws:bedrock:us-east-1:1:custom-model/x1", "does not name its model"),
    ],
)
def test_undocumented_families_are_unknown(model, why):
    found = bv.seen(model, 1000, 1000, None, {})
    assert found.tokens is None
    assert why in found.rule


def test_detail_is_no_converse_setting_and_says_so():
    found = bv.seen("amazon.nova-pro-v1:0", 900, 900, "low", {})
    assert found.tokens == 1300
    assert found.notes == ("detail: low — Bedrock's Converse API has no detail setting; not sent",)
    claude = bv.seen("anthropic.claude-opus-4-7", 100, 100, "high", {})
    assert claude.notes == ("detail: high — Anthropic has no detail setting; it is not sent",)


def _service_model() -> dict:
    root = Path(botocore.__file__).parent / "data" / "bedrock-runtime"
    (path,) = sorted(root.glob("*/service-2.json*"))[-1:]
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)


def test_converse_limits_match_botocores_service_model():
    shapes = _service_model()["shapes"]
    content_doc = shapes["Message"]["members"]["content"]["documentation"]
    assert "You can include up to 20 images." in content_doc
    assert "no more than 3.75 MB, 8000 px, and 8000 px" in content_doc
    rules = bv.limits("cohere.command-r-plus-v1:0")  # any model: the Converse API's own
    assert (rules.max_images, rules.max_image_bytes, rules.max_side) == (20, 3_932_160, 8000)
    assert rules.formats == {f"image/{name}" for name in shapes["ImageFormat"]["enum"]}
    assert rules.max_request_bytes is None and rules.many_images is None


def test_limits_per_family():
    claude = bv.limits("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    # Anthropic's "5 MB (base64-encoded)" on Bedrock is the same 3.75 MiB of bytes.
    assert claude.max_image_bytes == av.decoded_limit(av.PARTNER_IMAGE_BASE64) == 3_932_160
    assert (claude.max_images, claude.many_images, claude.many_max_side) == (20, 20, 2000)
    nova = bv.limits("amazon.nova-pro-v1:0")
    assert nova.max_request_bytes == 19_660_800  # 25 MiB of payload, base64 included
    nova2 = bv.limits("global.amazon.nova-2-lite-v1:0")
    assert (nova2.max_images, nova2.max_request_bytes) == (5, 19_660_800)
    assert bv.limits("meta.llama3-2-90b-instruct-v1:0") == bv.CONVERSE
    assert bv.NOVA2_URL in nova2.source and bv.NOVA_URL in nova.source
    assert av.VISION_URL in claude.source


def _img(width, height, size=1000, mime="image/png") -> Image:
    img = Image(message=0, part=0, origin="base64")
    img.data, img.mime, img.width, img.height = b"x" * size, mime, width, height
    return img


def test_estimate_and_preflight_on_the_bedrock_route():
    model = "us.amazon.nova-lite-v1:0"
    images = [_img(800, 400), _img(1920, 1080, size=4_000_000)]
    est = estimate.estimate("bedrock", model, images, [])
    assert [e.seen.tokens for e in est.images] == [800, None]
    assert est.prompt_tokens is None  # one image's cost is unknown, so the total is
    assert {(p.image, p.limit) for p in est.problems} == {(1, "max_image_bytes=3932160")}
    many = estimate.estimate("bedrock", model, [_img(10, 10) for _ in range(21)], [])
    assert {(p.image, p.limit) for p in many.problems} == {(None, "max_images=20")}
