"""JSON Schema for the fakes: a value that matches a schema (what a model with structured
outputs answers), and the rules OpenAI's strict mode puts on the schemas it accepts.

instance() walks objects (every property, required or not), arrays (one item), strings,
integers, numbers, booleans, null, enum/const, anyOf/oneOf/allOf and local $refs ($defs,
definitions). Type names are read case-insensitively, so Gemini's OpenAPI-style
responseSchema ("OBJECT", "STRING") works too. Strings are what the user said, so a test can
tell the answer was made for its request.
"""

import re
from typing import Any

# https://platform.openai.com/docs/guides/structured-outputs#supported-schemas (read 2026-11)
STRICT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
FORMATS = {
    "date-time": "2026-11-02T10:00:00Z",
    "date": "2026-11-02",
    "time": "10:00:00",
    "email": "ada@example.com",
    "uuid": "0f8fad5b-d9cb-469f-a165-70867728950e",
}


class Unresolvable(ValueError):
    pass


def resolve(root: dict, ref: str) -> dict:
    """A local $ref (#/$defs/X, #/definitions/X, or a JSON pointer) in `root`."""
    if not ref.startswith("#"):
        raise Unresolvable(f"$ref {ref!r} is not local")
    node: Any = root
    for token in filter(None, ref[1:].split("/")):
        key = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            raise Unresolvable(f"$ref {ref!r} does not resolve")
        node = node[key]
    if not isinstance(node, dict):
        raise Unresolvable(f"$ref {ref!r} does not name a schema")
    return node


def instance(schema: Any, said: str, root: dict | None = None, depth: int = 0) -> Any:
    """A value that matches `schema`; its strings are `said`."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 32:  # `true`, `{}`, or a recursive schema
        return said
    if "$ref" in schema:
        return instance(resolve(root, schema["$ref"]), said, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("allOf"):
        merged: dict = {}
        for part in schema["allOf"]:
            value = instance(part, said, root, depth + 1)
            merged |= value if isinstance(value, dict) else {}
        return merged
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key) or [] if _kind(o) != "null"] or schema.get(key)
        if options:
            return instance(options[0], said, root, depth + 1)
    kind = _kind(schema)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        if not properties:
            return {"answer": said}
        return {name: instance(sub, said, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        return [instance(schema.get("items") or {"type": "string"}, said, root, depth + 1)]
    if kind == "string":
        return FORMATS.get(schema.get("format"), said)
    return {"integer": 3, "number": 1.5, "boolean": True, "null": None}.get(kind, said)


def _kind(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "null")
    return str(kind or "").lower()


def strict_problem(schema: Any) -> str | None:
    """Why OpenAI's strict mode would refuse this schema, or None: the root is an object (not
    anyOf), every object sets additionalProperties: false and requires all its properties,
    and every $ref resolves."""
    if not isinstance(schema, dict) or _kind(schema) != "object" or "anyOf" in schema:
        return "the root schema must be an object and not use anyOf"
    return _walk(schema, schema, "()", set())


def _walk(node: Any, root: dict, where: str, seen: set[str]) -> str | None:
    if not isinstance(node, dict):
        return None
    if ref := node.get("$ref"):
        if ref in seen:
            return None  # recursion is allowed; each definition is checked once
        seen.add(ref)
        try:
            return _walk(resolve(root, ref), root, ref, seen)
        except Unresolvable as exc:
            return f"In context={where}, {exc}."
    if _kind(node) == "object" or "properties" in node:
        if node.get("additionalProperties") is not False:
            return (
                f"In context={where}, 'additionalProperties' is required to be supplied "
                "and to be false."
            )
        properties = node.get("properties") or {}
        missing = [name for name in properties if name not in (node.get("required") or [])]
        if missing:
            return (
                f"In context={where}, 'required' is required to be supplied and to be an "
                f"array including every key in properties. Missing '{missing[0]}'."
            )
    children = [(f"{where}.{name}", sub) for name, sub in (node.get("properties") or {}).items()]
    children += [(f"{where}.items", node["items"])] if isinstance(node.get("items"), dict) else []
    for key in ("anyOf", "allOf", "oneOf"):
        children += [(f"{where}.{key}[{i}]", sub) for i, sub in enumerate(node.get(key) or [])]
    for key in ("$defs", "definitions"):
        children += [(f"{key}.{name}", sub) for name, sub in (node.get(key) or {}).items()]
    for child_where, child in children:
        if found := _walk(child, root, child_where, seen):
            return found
    return None


def ref_problem(node: Any, root: Any = None) -> str | None:
    """The first $ref in `node` that does not resolve locally, or None."""
    root = node if root is None else root
    if isinstance(node, list):
        return next((found for item in node if (found := ref_problem(item, root))), None)
    if not isinstance(node, dict):
        return None
    if isinstance(ref := node.get("$ref"), str):
        try:
            resolve(root, ref)
        except Unresolvable as exc:
            return str(exc)
    return next((found for v in node.values() if (found := ref_problem(v, root))), None)
