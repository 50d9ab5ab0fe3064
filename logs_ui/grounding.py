"""Grounding: boxes and points a model answered with, found in its reply and mapped onto the
image they are about.

Pure: stored JSON in, numbers out (logs_ui/templatetags/grounding_tags.py does the Django
part). Models disagree on conventions (Gemini: `box_2d` [ymin, xmin, ymax, xmax] on 0–1000;
Qwen2.5-VL: `bbox_2d` in absolute pixels, Qwen3-VL: the same key on 0–1000; plain JSON:
anything), so every convention that fits all of a group's shapes is kept as a candidate, in
order of likelihood: the page draws the first and offers the others.
"""

import json
from dataclasses import dataclass
from typing import Any

MAX_TEXT = 200_000  # characters of an answer scanned for JSON
MAX_ATTEMPTS = 5_000  # JSON parses tried per text (a bracket that opens nothing costs one)
MAX_SHAPES = 500
MAX_SCANNED = 2_000_000  # characters read by failed JSON parses, per text
MAX_DEPTH = 24
TOLERANCE = 0.02  # a shape may overshoot the image by 2% (and 1 px) and still fit
LABEL_KEYS = ("label", "name", "class", "class_name", "category", "object", "text", "title")


@dataclass(frozen=True)
class Family:
    """A way of writing coordinates: its key, its kind, the orders and scales it may use."""

    id: str
    name: str  # how the panel names it
    kind: str  # "box" | "point"
    orders: tuple[str, ...]  # "yxyx" | "xyxy" | "xywh" | "yx" | "xy"
    scales: tuple[str, ...]  # preferred, most likely first
    fallback: tuple[str, ...] = ()  # only when no preferred scale fits


FAMILIES = {
    f.id: f
    for f in (
        Family("gemini_box", "Gemini box_2d", "box", ("yxyx",), ("n1000", "n1"), ("abs",)),
        Family("gemini_point", "Gemini point", "point", ("yx",), ("n1000", "n1"), ("abs",)),
        Family("qwen_box", "Qwen-VL bbox_2d", "box", ("xyxy",), ("abs", "seen", "n1000")),
        Family("qwen_point", "Qwen-VL point_2d", "point", ("xy",), ("abs", "seen", "n1000")),
        Family("xyxy", "x1/y1/x2/y2", "box", ("xyxy",), ("abs", "n1000", "n1")),
        Family("xywh", "x/y/width/height", "box", ("xywh",), ("abs", "n1", "n1000")),
        Family("bbox", "bbox list", "box", ("xyxy", "xywh"), ("abs", "n1000", "n1")),
        Family("xy", "x/y point", "point", ("xy",), ("abs", "n1", "n1000")),
    )
}
SCALES = {
    "n1000": "0–1000 normalised",
    "n1": "0–1 normalised",
    "abs": "absolute pixels",
    "seen": "absolute pixels of the image as the model saw it",
}
ORDERS = {
    "yxyx": "[ymin, xmin, ymax, xmax]",
    "xyxy": "[x1, y1, x2, y2]",
    "xywh": "[x, y, width, height]",
    "yx": "[y, x]",
    "xy": "[x, y]",
}
_CORNERS = (("x1", "y1", "x2", "y2"), ("xmin", "ymin", "xmax", "ymax"))
_CORNERS += (("left", "top", "right", "bottom"),)
_SIZES = (("x", "y", "width", "height"), ("x", "y", "w", "h"))


@dataclass(frozen=True)
class Shape:
    """One box or point as the model wrote it (values in its family's key order)."""

    family: str
    values: tuple[float, ...]
    label: str
    source: str  # where in the answer: "reply text", "tool call detect", …


@dataclass(frozen=True)
class ImageRef:
    """An input image a shape may be about: its upright size and, when known, the size the
    model saw it at (a resized copy)."""

    key: int
    label: str
    width: int | None
    height: int | None
    seen: tuple[int, int] | None = None

    @property
    def sized(self) -> bool:
        return bool(self.width and self.height)


@dataclass(frozen=True)
class Convention:
    id: str  # "<order>-<scale>"
    order: str
    scale: str
    text: str  # e.g. "Gemini box_2d, 0–1000 normalised, [ymin, xmin, ymax, xmax]"


@dataclass
class Group:
    """The shapes of one family and the conventions that fit all of them (first: assumed)."""

    id: str
    family: Family
    shapes: list[Shape]
    conventions: list[Convention]
    fits: bool = True  # False: no convention puts every shape inside the image

    @property
    def assumed(self) -> Convention:
        return self.conventions[0]

    @property
    def ambiguous(self) -> bool:
        return len(self.conventions) > 1


# -- finding JSON and shapes -------------------------------------------------------------


def json_values(text: str) -> list[Any]:
    """Every JSON object or array in a text: in ```json fences or bare, several or one. A
    broken one (cut off, a stray comma) still yields the complete objects inside it. Bounded:
    failed parses may read MAX_SCANNED characters in all (a long cut-off list is read again
    from each of its brackets)."""
    decoder = json.JSONDecoder()
    text = text[:MAX_TEXT]
    found: list[Any] = []
    i, attempts, scanned = 0, 0, 0
    while attempts < MAX_ATTEMPTS and scanned < MAX_SCANNED:
        starts = [p for p in (text.find("{", i), text.find("[", i)) if p >= 0]
        if not starts:
            break
        i = min(starts)
        attempts += 1
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            scanned += exc.pos - i
            i += 1
            continue
        except RecursionError:  # nested deeper than Python's stack: not an answer's boxes,
            scanned += MAX_SCANNED // 20  # and each bracket inside would fail the same way
            i += 1
            continue
        found.append(value)
        i = end
    return found


def shapes_in(value: Any, source: str, label: str = "", depth: int = 0) -> list[Shape]:
    """The boxes and points in a JSON value, however deeply nested (JSON inside a string
    too, as tool arguments sometimes are)."""
    if depth > MAX_DEPTH:
        return []
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and len(stripped) <= MAX_TEXT:
            return [
                s for v in json_values(stripped) for s in shapes_in(v, source, label, depth + 1)
            ]
        return []
    if isinstance(value, list):
        return [s for item in value for s in shapes_in(item, source, label, depth + 1)]
    if not isinstance(value, dict):
        return []
    own = _label(value) or label
    found = _shape_of(value, own, source)
    for key, item in value.items():
        if isinstance(item, dict | list | str) and not _used(key, value):
            found.extend(shapes_in(item, source, own, depth + 1))
    return found


def _shape_of(obj: dict, label: str, source: str) -> list[Shape]:
    out = []
    keyed = {
        "box_2d": ("gemini_box", 4),
        "point": ("gemini_point", 2),
        "bbox_2d": ("qwen_box", 4),
        "point_2d": ("qwen_point", 2),
        "bbox": ("bbox", 4),
        "box": ("bbox", 4),
        "bounding_box": ("bbox", 4),
    }
    for key, (family, size) in keyed.items():
        values = _numbers(obj.get(key), size)
        if values:
            out.append(Shape(family, values, label, source))
    for keys in _CORNERS:
        values = _numbers([obj.get(k) for k in keys], 4)
        if values:
            out.append(Shape("xyxy", values, label, source))
            return out
    for keys in _SIZES:
        values = _numbers([obj.get(k) for k in keys], 4)
        if values:
            out.append(Shape("xywh", values, label, source))
            return out
    values = _numbers([obj.get("x"), obj.get("y")], 2)
    if values:
        out.append(Shape("xy", values, label, source))
    return out


def _used(key: str, obj: dict) -> bool:
    """A key whose value was already read as a shape (not walked again)."""
    return key in {"box_2d", "point", "bbox_2d", "point_2d"} or (
        key in {"bbox", "box", "bounding_box"} and isinstance(obj.get(key), list)
    )


def _numbers(value: Any, size: int) -> tuple[float, ...] | None:
    if not isinstance(value, list | tuple) or len(value) != size:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    numbers = tuple(float(v) for v in value)
    return numbers if all(abs(v) < 1e7 for v in numbers) else None


def _label(obj: dict) -> str:
    for key in LABEL_KEYS:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:80]
        if isinstance(value, int | float) and not isinstance(value, bool) and key != "text":
            return str(value)
    return ""


# -- where an answer keeps its text ------------------------------------------------------


def answer_texts(response_body: Any, request_body: Any = None) -> list[tuple[str, str]]:
    """(where, text) for each place of an answer that may hold coordinates: the reply's text
    (named "structured output" when the request asked for JSON), each tool call's arguments;
    chat completions and Responses API answers alike."""
    body = response_body if isinstance(response_body, dict) else {}
    reply = "structured output" if _asked_for_json(request_body) else "reply text"
    out: list[tuple[str, str]] = []
    for choice in body.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        out.extend((reply, t) for t in _texts(message.get("content")))
        for call in message.get("tool_calls") or []:
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict):
                out.extend(_call(fn.get("name"), fn.get("arguments")))
    for item in body.get("output") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            out.extend((reply, t) for t in _texts(item.get("content")))
        elif item.get("type") == "function_call":
            out.extend(_call(item.get("name"), item.get("arguments")))
    return out


def _asked_for_json(request_body: Any) -> bool:
    body = request_body if isinstance(request_body, dict) else {}
    chat = body.get("response_format")
    text = body.get("text")
    responses = text.get("format") if isinstance(text, dict) else None
    kinds = {f.get("type") for f in (chat, responses) if isinstance(f, dict)}
    return bool(kinds & {"json_schema", "json_object"})


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        texts = (p.get("text") for p in content if isinstance(p, dict))
        return [t for t in texts if isinstance(t, str)]
    return []


def _call(name: Any, arguments: Any) -> list[tuple[str, str]]:
    where = f"tool call {name}" if isinstance(name, str) and name else "tool call"
    if isinstance(arguments, str):
        return [(where, arguments)]
    if isinstance(arguments, dict | list):
        return [(where, json.dumps(arguments))]
    return []


def shapes_of_answer(response_body: Any, request_body: Any = None) -> list[Shape]:
    shapes = []
    for where, text in answer_texts(response_body, request_body):
        for value in json_values(text):
            shapes.extend(shapes_in(value, where))
    return shapes


# -- conventions: which fit, and where they put each shape --------------------------------


def conventions_for(
    family: Family, shapes: list[Shape], image: ImageRef, model: str = ""
) -> tuple[list[Convention], bool]:
    """The conventions under which every shape lands inside the image, most likely first;
    (the one that fits most, False) when none fits them all."""
    scales = list(family.scales)
    if family.id.startswith("qwen") and "qwen3" in model.lower():  # Qwen3-VL: 0–1000
        scales.remove("n1000")
        scales.insert(0, "n1000")
    if not (image.sized and image.seen and image.seen != (image.width, image.height)):
        scales = [s for s in scales if s != "seen"]
    preferred = _conventions(family, scales, image)
    fallback = _conventions(family, list(family.fallback), image)
    for candidates in (preferred, fallback):
        fitting = [c for c in candidates if all(fits(s, c, image) for s in shapes)]
        if fitting:
            return fitting, True
    every = preferred + fallback
    return [max(every, key=lambda c: sum(fits(s, c, image) for s in shapes))], False


def _conventions(family: Family, scales: list[str], image: ImageRef) -> list[Convention]:
    out = []
    for scale in scales:
        for order in family.orders:
            said = SCALES[scale]
            if scale == "seen" and image.seen:
                said += f" ({image.seen[0]}×{image.seen[1]})"
            text = f"{family.name}, {said}, {ORDERS[order]}"
            out.append(Convention(f"{order}-{scale}", order, scale, text))
    return out


def corners(values: tuple[float, ...], order: str) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) in the convention's units, as written (x1 < x0 when reversed); a
    point is (x, y, x, y)."""
    v = values
    if order == "yxyx":
        return v[1], v[0], v[3], v[2]
    if order == "xyxy":
        return v[0], v[1], v[2], v[3]
    if order == "xywh":
        return v[0], v[1], v[0] + v[2], v[1] + v[3]
    if order == "yx":
        return v[1], v[0], v[1], v[0]
    return v[0], v[1], v[0], v[1]


def _factors(scale: str, image: ImageRef) -> tuple[float, float]:
    w, h = float(image.width or 1), float(image.height or 1)
    if scale == "n1000":
        return w / 1000, h / 1000
    if scale == "n1":
        return w, h
    if scale == "seen" and image.seen:
        return w / image.seen[0], h / image.seen[1]
    return 1.0, 1.0


def to_pixels(shape: Shape, convention: Convention, image: ImageRef) -> tuple[float, ...]:
    """The shape's corners in the image's upright pixels."""
    x0, y0, x1, y1 = corners(shape.values, convention.order)
    fx, fy = _factors(convention.scale, image)
    return x0 * fx, y0 * fy, x1 * fx, y1 * fy


def fits(shape: Shape, convention: Convention, image: ImageRef) -> bool:
    """Whether the shape, read this way, is a well-formed box or point inside the image."""
    values = shape.values
    if convention.scale == "n1":
        if not all(0 <= v <= 1 + 1e-9 for v in values):
            return False
    elif max(abs(v) for v in values) <= 1:  # 0–1 numbers are not pixels, nor thousandths
        return False
    x0, y0, x1, y1 = corners(values, convention.order)
    if x1 < x0 or y1 < y0:
        return False
    if not image.sized:  # no size to check against: the scale's own range
        top = {"n1000": 1000.0, "n1": 1.0}.get(convention.scale, float("inf"))
        return all(0 <= v <= top * (1 + TOLERANCE) for v in (x0, y0, x1, y1))
    px0, py0, px1, py1 = to_pixels(shape, convention, image)
    w, h = float(image.width or 0), float(image.height or 0)
    tx, ty = w * TOLERANCE + 1, h * TOLERANCE + 1
    return -tx <= px0 and px1 <= w + tx and -ty <= py0 and py1 <= h + ty
