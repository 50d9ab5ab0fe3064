"""Checking feedback bodies (the API's and the widget's): Portkey's fields and ranges, plus
Iris's `labels` and `comment`. Errors name the field, for OpenAI's error shape's `param`."""

import json
import math
from dataclasses import dataclass

from feedback.models import VALUE_MAX, VALUE_MIN

MAX_LABELS = 20
MAX_LABEL_LENGTH = 100
MAX_COMMENT = 10_000
MAX_METADATA_BYTES = 16_384


@dataclass
class Invalid(Exception):
    param: str
    message: str


def trace_id(raw: object, param: str = "trace_id") -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid(param, "trace_id is required: the request's x-portkey-trace-id.")
    if len(raw) > 200:
        raise Invalid(param, "trace_id is at most 200 characters.")
    return raw.strip()


def value(raw: object, param: str = "value") -> int:
    # JSON's 1.0 is accepted as 1; true/false and 1.5 are not integers.
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise Invalid(param, f"value must be an integer from {VALUE_MIN} to {VALUE_MAX}.")
    if isinstance(raw, float) and not raw.is_integer():
        raise Invalid(param, f"value must be an integer from {VALUE_MIN} to {VALUE_MAX}.")
    if not VALUE_MIN <= raw <= VALUE_MAX:
        raise Invalid(param, f"value must be from {VALUE_MIN} to {VALUE_MAX}, not {raw}.")
    return int(raw)


def weight(raw: object, param: str = "weight") -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise Invalid(param, "weight must be a number from 0 to 1.")
    if not 0 <= raw <= 1:
        raise Invalid(param, f"weight must be from 0 to 1, not {raw}.")
    return float(raw)


def metadata(raw: object, param: str = "metadata") -> dict:
    """An object; a JSON string holding one is accepted too (Portkey's docs call it a string)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise Invalid(param, "metadata must be a JSON object.") from None
    if not isinstance(raw, dict):
        raise Invalid(param, "metadata must be a JSON object.")
    if len(json.dumps(raw)) > MAX_METADATA_BYTES:
        raise Invalid(param, f"metadata is at most {MAX_METADATA_BYTES} bytes of JSON.")
    return raw


def labels(raw: object, param: str = "labels") -> list[str]:
    """Distinct, trimmed, in the order given."""
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise Invalid(param, "labels must be a list of strings.")
    out: list[str] = []
    for name in (x.strip() for x in raw):
        if len(name) > MAX_LABEL_LENGTH:
            raise Invalid(param, f"A label is at most {MAX_LABEL_LENGTH} characters.")
        if name and name not in out:
            out.append(name)
    if len(out) > MAX_LABELS:
        raise Invalid(param, f"At most {MAX_LABELS} labels.")
    return out


def comment(raw: object, param: str = "comment") -> str:
    if not isinstance(raw, str):
        raise Invalid(param, "comment must be a string.")
    if len(raw) > MAX_COMMENT:
        raise Invalid(param, f"comment is at most {MAX_COMMENT} characters.")
    return raw.strip()


CHECKS = {
    "value": value,
    "weight": weight,
    "metadata": metadata,
    "labels": labels,
    "comment": comment,
}


def fields(body: object, *, creating: bool, prefix: str = "") -> dict:
    """The checked fields of one feedback object (`prefix` names its place in a bulk list).
    Creating: trace_id and value are required. Updating: any subset, trace_id not allowed."""
    if not isinstance(body, dict):
        raise Invalid(prefix or None, "The body must be a JSON object.")  # type: ignore[arg-type]
    out: dict = {}
    if creating:
        out["trace_id"] = trace_id(body.get("trace_id"), f"{prefix}trace_id")
        if body.get("value") is None:
            raise Invalid(f"{prefix}value", "value is required: an integer from -10 to 10.")
    elif "trace_id" in body:
        raise Invalid("trace_id", "A feedback's trace_id cannot change.")
    for name, check in CHECKS.items():
        if body.get(name) is not None:  # null means "not given", as the SDK's NOT_GIVEN
            out[name] = check(body[name], f"{prefix}{name}")
    if not creating and not out:
        raise Invalid("value", "Nothing to update: send value, weight, metadata, labels, comment.")
    return out
