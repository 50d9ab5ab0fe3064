"""What a request should cost in input tokens, before or after it is sent: each image by its
provider's documented rule (gateway/vision.py, gateway/providers/*_vision.py) and the text
by the provider's tokenizer or a documented approximation (gateway/tokens.py). No I/O."""

import importlib
from dataclasses import dataclass, field
from types import ModuleType

from gateway import tokens, vision
from gateway.chat import Chat
from gateway.images import Image
from gateway.vision import Limits, Problem, Seen

# A provider's vision rules, like its translation, are one pure module.
VISION: dict[str, str] = {
    "openai": "gateway.providers.openai_vision",
    "azure-openai": "gateway.providers.openai_vision",  # Azure serves OpenAI's models
    "anthropic": "gateway.providers.anthropic_vision",
    "google": "gateway.providers.gemini_vision",
    "bedrock": "gateway.providers.bedrock_vision",
}


def vision_rules(provider: str) -> ModuleType | None:
    name = VISION.get(provider)
    return importlib.import_module(name) if name else None


@dataclass
class ImageEstimate:
    image: Image
    seen: Seen
    warnings: list[str]

    def as_json(self, index: int) -> dict:
        img, seen = self.image, self.seen
        return {
            "index": index,
            "message": img.message,
            "part": img.part,
            "width": img.width,
            "height": img.height,
            "seen_width": seen.width,
            "seen_height": seen.height,
            "estimated_tokens": seen.tokens,
            "grid": seen.grid.as_json() if seen.grid else None,
            "rule": seen.rule,
            "warnings": self.warnings,
        }


@dataclass
class Estimate:
    images: list[ImageEstimate] = field(default_factory=list)
    text_tokens: int = 0
    text_method: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def image_tokens(self) -> int | None:
        counts = [e.seen.tokens for e in self.images]
        return None if None in counts else sum(counts)  # type: ignore[arg-type]

    @property
    def prompt_tokens(self) -> int | None:
        """Images plus text; None when any image's cost is unknown."""
        images = self.image_tokens
        return None if images is None else images + self.text_tokens


def seen(provider: str, model: str, img: Image, body: dict | None = None) -> Seen:
    """One image as `model` on `provider` would see it. `body` is the request's JSON: a
    provider's rule may read its own settings there (Gemini's media_resolution)."""
    rules = vision_rules(provider)
    if rules is None:
        return vision.unknown(f"no rule for provider {provider!r}")
    if not (img.width and img.height):
        return vision.unknown(img.error or "dimensions unknown")
    return rules.seen(model, img.width, img.height, img.detail, body or {})


def limits(provider: str, model: str) -> Limits:
    rules = vision_rules(provider)
    return rules.limits(model) if rules else Limits()


def estimate(
    provider: str, model: str, images: list[Image], texts: list[str], body: dict | None = None
) -> Estimate:
    """The input side of one request. `images` are the images sent (documents apart)."""
    out = Estimate()
    for img in images:
        if img.is_document:
            continue
        s = seen(provider, model, img, body)
        notes = vision.warnings(
            s,
            width=img.width,
            height=img.height,
            frames=img.frames,
            exif_orientation=img.exif_orientation,
            detail=img.detail,
        )
        if img.problem:  # "the image looks truncated: …": the provider may refuse it
            notes.append(img.problem)
        out.images.append(ImageEstimate(img, s, notes))
    messages = (body or {}).get("messages")
    if isinstance(messages, list):  # a chat: counted with the tokenizer's per-message overhead
        out.text_tokens, out.text_method = tokens.count_messages(provider, model, messages)
    else:
        out.text_tokens, out.text_method = tokens.count_text(provider, model, texts)
    # No images, no problems: the log writer estimates every record, most without images.
    out.problems = preflight(out.images, limits(provider, model)) if out.images else []
    return out


def request_images(parsed) -> list[Image]:
    """The input images a parsed request sends: its own, and a continued conversation's."""
    own = [img for img in parsed.images if img.role == "input" and not img.is_document]
    return [*getattr(parsed, "history_images", ()), *own]


def request_texts(parsed) -> list[str]:
    """The text a parsed request sends besides a chat's messages (which estimate() counts
    from the body, with the tokenizer's overhead): a Responses request's instructions and
    input items, another API's prompt."""
    if isinstance(parsed, Chat):
        return []
    if not hasattr(parsed, "input_items"):
        return [parsed.prompt_text()]
    texts = [parsed.body.get("instructions")]
    # A continued conversation: the earlier turns Iris attached from its log come first.
    for item in [*getattr(parsed, "history", ()), *parsed.input_items()]:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p.get("text") for p in content if isinstance(p, dict)]
    return [text for text in texts if isinstance(text, str) and text]


def preflight(images: list[ImageEstimate], rules: Limits) -> list[Problem]:
    """Why the provider would refuse these images, each problem naming the image and the
    limit; empty when it would take them."""
    problems: list[Problem] = []
    sized = [e.image for e in images]
    if rules.max_images is not None and len(sized) > rules.max_images:
        problems.append(
            Problem(
                None,
                f"{len(sized)} images; at most {rules.max_images} are taken",
                f"max_images={rules.max_images}",
            )
        )
    total = 0
    max_side = rules.max_side
    if rules.many_images is not None and len(sized) > rules.many_images:
        max_side = rules.many_max_side
    for i, img in enumerate(sized):
        total += img.size
        if img.error:
            problems.append(Problem(i, img.error, "readable"))
            continue
        if rules.max_image_bytes is not None and img.size > rules.max_image_bytes:
            problems.append(
                Problem(
                    i,
                    f"is {img.size} bytes; at most {rules.max_image_bytes} are taken",
                    f"max_image_bytes={rules.max_image_bytes}",
                )
            )
        if rules.formats and img.payload_mime and img.payload_mime not in rules.formats:
            problems.append(
                Problem(
                    i,
                    f"is {img.payload_mime}; taken are {', '.join(sorted(rules.formats))}",
                    "formats",
                )
            )
        side = max(img.width or 0, img.height or 0)
        if max_side is not None and side > max_side:
            problems.append(
                Problem(
                    i,
                    f"is {img.width}×{img.height} px; at most {max_side} px a side",
                    f"max_side={max_side}",
                )
            )
        pixels = (img.width or 0) * (img.height or 0)
        if rules.max_pixels is not None and pixels > rules.max_pixels:
            problems.append(
                Problem(
                    i,
                    f"has {pixels} pixels; at most {rules.max_pixels}",
                    f"max_pixels={rules.max_pixels}",
                )
            )
    if rules.max_request_bytes is not None and total > rules.max_request_bytes:
        problems.append(
            Problem(
                None,
                f"the images total {total} bytes; at most {rules.max_request_bytes}",
                f"max_request_bytes={rules.max_request_bytes}",
            )
        )
    return problems
