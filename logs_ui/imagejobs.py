"""One logged Images API request (generations, edits, variations) as the page shows it: the
prompt and parameters, the images sent (the mask drawn over the image it applies to), the
images made with the prompt the model says it used, and the partial images of a stream."""

import json
from dataclasses import dataclass, field

from gateway.logrecord import revised_prompts
from gateway.models import RequestLog
from logs_ui.conversation import Images
from logs_ui.imageview import ImageView

# Request fields shown elsewhere on the page (or as images), not among the parameters.
_SHOWN_APART = ("prompt", "image", "images", "mask")
# Answer fields that say what was made (gpt-image models name them).
_ANSWER_FACTS = ("size", "quality", "output_format", "background")


@dataclass
class Made:
    """An output image and the prompt the model says it used for it."""

    view: ImageView
    revised_prompt: str = ""


@dataclass
class ImageRequest:
    endpoint: str
    prompt: str
    params: list[tuple[str, str]]
    inputs: list[ImageView] = field(default_factory=list)
    mask: ImageView | None = None
    outputs: list[Made] = field(default_factory=list)
    partials: list[ImageView] = field(default_factory=list)
    answer_facts: list[tuple[str, str]] = field(default_factory=list)
    expected: int = 0  # how many images were asked for (n)

    @property
    def masked(self) -> ImageView | None:
        """The image the mask applies to (the first one), when there is a mask to draw."""
        if self.mask is None or self.mask.problem or not self.inputs:
            return None
        first = self.inputs[0]
        return None if first.problem or first.live else first


def image_request(log: RequestLog, images: Images) -> ImageRequest | None:
    """The Images API view of the request, or None for a chat request."""
    if not log.endpoint.startswith("images."):
        return None
    body = log.request_body if isinstance(log.request_body, dict) else {}
    prompt = body.get("prompt")
    params = [(k, _shown(v)) for k, v in body.items() if k not in _SHOWN_APART]
    sent = [images.inputs[place] for place in sorted(images.inputs)]
    revised = revised_prompts(log.response_body)
    answer = log.response_body if isinstance(log.response_body, dict) else {}
    n = body.get("n", 1)
    return ImageRequest(
        endpoint=log.endpoint,
        prompt=prompt if isinstance(prompt, str) else "",
        params=params,
        inputs=[v for v in sent if v.role == "input"],
        mask=next((v for v in sent if v.role == "mask"), None),
        outputs=[Made(v, revised.get(v.image.part_index, "")) for v in images.outputs],
        partials=images.partials,
        answer_facts=[(k, _shown(answer[k])) for k in _ANSWER_FACTS if answer.get(k)],
        expected=n if isinstance(n, int) else 1,
    )


def _shown(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
