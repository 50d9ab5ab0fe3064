"""The Images API part of seed_demo: the requests it sends (a streamed generation with partial
images, a dall-e-3 generation with its revised prompt, an edit with a mask) and what its fake
model answers (pictures drawn with Pillow)."""

import base64
import io
import time
from pathlib import Path

from PIL import Image as PILImage
from PIL import ImageDraw, ImageFilter

IMAGES = Path(__file__).resolve().parents[2] / "demo"
HAT = (96, 8, 200, 88)  # where the edit demo's mask is transparent: the area to edit
IMAGE_DEMOS = [  # (path, body, metadata); "chelsea.png" and "mask" become data URIs
    (
        "/v1/images/generations",
        {
            "model": "gpt-image-1",
            "prompt": "A watercolour lighthouse at dusk, soft pastel sky, gentle waves",
            "size": "1024x1024",
            "quality": "low",
            "stream": True,
            "partial_images": 2,
        },
        {"app": "poster-maker"},
    ),
    (
        "/v1/images/generations",
        {
            "model": "dall-e-3",
            "prompt": "A robot reading a newspaper",
            "response_format": "b64_json",
        },
        {"app": "poster-maker"},
    ),
    (
        "/v1/images/edits",
        {
            "model": "gpt-image-1",
            "prompt": "Give the cat a small red party hat",
            "images": [{"image_url": "chelsea.png"}],
            "mask": {"image_url": "mask"},
        },
        {"app": "photo-fun"},
    ),
]


def _png(img: PILImage.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def _b64(data: bytes, mime: str = "image/png", uri: bool = False) -> str:
    encoded = base64.b64encode(data).decode()
    return f"data:{mime};base64,{encoded}" if uri else encoded


def edit_mask(size: tuple[int, int]) -> bytes:
    """An OpenAI mask for the edit demo: opaque (kept) but for a transparent hole over the head."""
    mask = PILImage.new("RGBA", size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), HAT)
    return _png(mask)


def _painting(blur: float = 0) -> bytes:
    """The fake model's lighthouse: sky, sea and a tower, blurrier in its partial images."""
    img = PILImage.new("RGB", (256, 256))
    draw = ImageDraw.Draw(img)
    for y in range(256):
        draw.line((0, y, 255, y), fill=(250 - y // 3, 170 - y // 4, 150 + y // 3))
    draw.rectangle((0, 180, 255, 255), fill=(60, 100, 150))
    draw.polygon([(118, 180), (138, 180), (133, 90), (123, 90)], fill=(240, 235, 225))
    draw.rectangle((120, 78, 136, 90), fill=(250, 210, 90))
    return _png(img.filter(ImageFilter.GaussianBlur(blur)) if blur else img)


def _with_hat() -> bytes:
    cat = PILImage.open(IMAGES / "chelsea.png").convert("RGB")
    left, top, right, bottom = HAT
    ImageDraw.Draw(cat).polygon(
        [(left + 10, bottom - 6), (right - 10, bottom - 6), ((left + right) // 2, top + 4)],
        fill=(220, 30, 40),
    )
    return _png(cat)


def images_answer(path: str, body: dict) -> tuple[dict, list[dict]]:
    """The fake model's ImagesResponse, and its stream events when asked to stream."""
    usage = {"input_tokens": 24, "output_tokens": 272, "total_tokens": 296}
    usage["input_tokens_details"] = {"text_tokens": 24, "image_tokens": 0}
    head = {"created": int(time.time())}
    if body["model"] == "dall-e-3":
        revised = "A vintage robot with brass joints reading a broadsheet newspaper at a café."
        return {**head, "data": [{"b64_json": _b64(_painting()), "revised_prompt": revised}]}, []
    made = _with_hat() if path.endswith("edits") else _painting()
    facts = {"size": "1024x1024", "quality": "low", "background": "opaque", "output_format": "png"}
    answer = {**head, **facts, "data": [{"b64_json": _b64(made)}], "usage": usage}
    kind = "image_edit" if path.endswith("edits") else "image_generation"
    events = [
        {"type": f"{kind}.partial_image", "b64_json": _b64(_painting(blur=12 - 6 * i)),
         "partial_image_index": i, "created_at": head["created"], **facts}
        for i in range(body.get("partial_images") or 0)
    ]  # fmt: skip
    done = {"type": f"{kind}.completed", "b64_json": _b64(made), "created_at": head["created"]}
    return answer, [*events, {**done, **facts, "usage": usage}]


def image_request_body(body: dict) -> dict:
    """An IMAGE_DEMOS body with its images as data URIs (a JSON edit, as gpt-image models take)."""
    cat = (IMAGES / "chelsea.png").read_bytes()
    uris = {"chelsea.png": _b64(cat, uri=True)}
    if "mask" in body:
        uris["mask"] = _b64(edit_mask(PILImage.open(io.BytesIO(cat)).size), uri=True)
    body = dict(body)
    if "images" in body:
        body["images"] = [{"image_url": uris[i["image_url"]]} for i in body["images"]]
    if "mask" in body:
        body["mask"] = {"image_url": uris[body["mask"]["image_url"]]}
    return body
