"""Grounding on a page: an answer's shapes grouped, labelled in distinct colours and laid out
as SVG layers over each input image, one layer per candidate convention (logs_ui/grounding.py
finds them). Pure: the template tag (logs_ui/templatetags/grounding_tags.py) feeds it."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from logs_ui.grounding import (
    FAMILIES,
    MAX_SHAPES,
    Convention,
    Group,
    ImageRef,
    Shape,
    conventions_for,
    shapes_of_answer,
    to_pixels,
)

PALETTE = (
    "#ff3b30",
    "#0a84ff",
    "#30d158",
    "#ff9f0a",
    "#bf5af2",
    "#64d2ff",
    "#ffd60a",
    "#ff375f",
    "#ac8e68",
    "#5e5ce6",
)


@dataclass(frozen=True)
class Label:
    key: str  # "l0", for the page's toggles
    name: str
    colour: str
    count: int


@dataclass(frozen=True)
class Drawn:
    """A shape in the image's upright pixels: a box (x, y, w, h) or a point (x, y, r)."""

    kind: str
    label: Label
    x: float
    y: float
    w: float = 0.0
    h: float = 0.0
    r: float = 0.0
    text_y: float = 0.0  # the label's baseline
    font: float = 11.0


@dataclass
class Layer:
    group: str
    convention: str
    shown: bool
    shapes: list[Drawn]


@dataclass
class Overlay:
    """What is drawn over one image: one layer per group and candidate convention."""

    image: ImageRef
    chosen: bool
    layers: list[Layer]


@dataclass
class Grounding:
    groups: list[Group] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    overlays: dict[int, Overlay] = field(default_factory=dict)
    images: list[ImageRef] = field(default_factory=list)
    chosen: ImageRef | None = None
    sources: list[str] = field(default_factory=list)
    truncated: bool = False  # more than MAX_SHAPES: the rest left out

    def __bool__(self) -> bool:
        return bool(self.groups)

    @property
    def drawable(self) -> list[ImageRef]:
        """The images an overlay can be drawn over (their size is known)."""
        return [i for i in self.images if i.sized]

    @property
    def boxes(self) -> int:
        return sum(len(g.shapes) for g in self.groups if g.family.kind == "box")

    @property
    def points(self) -> int:
        return sum(len(g.shapes) for g in self.groups if g.family.kind == "point")


# -- the whole answer, for a page ---------------------------------------------------------


def ground(
    response_body: Any,
    request_body: Any,
    images: Sequence[ImageRef] | Callable[[], Sequence[ImageRef]],
    model: str = "",
) -> Grounding:
    """The answer's shapes, grouped by how they are written, with the conventions that fit
    the image they are drawn over by default (the last input image), and an overlay for
    each image of a known size (the user may pick another). `images` may be a function:
    called only when the answer holds coordinates (most do not: no query for them)."""
    shapes = shapes_of_answer(response_body, request_body)
    found = Grounding(truncated=len(shapes) > MAX_SHAPES)
    shapes = shapes[:MAX_SHAPES]
    if not shapes:
        return found
    images = list(images() if callable(images) else images)
    found.images = images
    sized = [i for i in images if i.sized]
    found.chosen = sized[-1] if sized else None
    target = found.chosen or ImageRef(0, "", None, None)
    by_family: dict[str, list[Shape]] = {}
    for shape in shapes:
        by_family.setdefault(shape.family, []).append(shape)
    for n, (family_id, members) in enumerate(by_family.items()):
        family = FAMILIES[family_id]
        conventions, fit = conventions_for(family, members, target, model)
        found.groups.append(Group(f"g{n}", family, members, conventions, fit))
    found.labels = _labels(shapes)
    found.sources = list(dict.fromkeys(s.source for s in shapes))
    for image in sized:
        found.overlays[image.key] = _overlay(found, image, image is found.chosen)
    return found


def _labels(shapes: list[Shape]) -> list[Label]:
    counts: dict[str, int] = {}
    for shape in shapes:
        name = shape.label or "(no label)"
        counts[name] = counts.get(name, 0) + 1
    return [
        Label(f"l{i}", name, _colour(i), count) for i, (name, count) in enumerate(counts.items())
    ]


def _colour(i: int) -> str:
    if i < len(PALETTE):
        return PALETTE[i]
    return f"hsl({(i * 137.508) % 360:.0f}, 85%, 55%)"  # golden angle: hues far apart


def _overlay(found: Grounding, image: ImageRef, chosen: bool) -> Overlay:
    labels = {label.name: label for label in found.labels}
    # Thumbnails show the longest side at up to 240 px: text and points sized for that.
    unit = max(float(max(image.width or 1, image.height or 1)) / 240, 1.0)
    layers = []
    for group in found.groups:
        for k, convention in enumerate(group.conventions):
            drawn = [
                _draw(s, convention, image, labels[s.label or "(no label)"], unit)
                for s in group.shapes
            ]
            layers.append(Layer(group.id, convention.id, k == 0, drawn))
    return Overlay(image, chosen, layers)


def _draw(
    shape: Shape, convention: Convention, image: ImageRef, label: Label, unit: float
) -> Drawn:
    x0, y0, x1, y1 = to_pixels(shape, convention, image)
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    font = 11 * unit
    if FAMILIES[shape.family].kind == "point":
        return Drawn("point", label, x0, y0, r=4 * unit, text_y=y0 - 6 * unit, font=font)
    text_y = y0 - 3 * unit if y0 > font + 3 * unit else y0 + font
    return Drawn("box", label, x0, y0, x1 - x0, y1 - y0, text_y=text_y, font=font)
