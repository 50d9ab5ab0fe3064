"""The fake Anthropic's structured outputs: what the docs say the API refuses, and JSON that
matches a schema. https://platform.claude.com/docs/en/build-with-claude/structured-outputs

The SDK's types already check the shapes (output_config: OutputConfigParam, format:
JSONOutputFormatParam, tools[].strict: bool); this adds what they cannot say:
- output_config.format and strict tools exist only on the models the docs list;
- their schemas stay in the documented subset: every object has additionalProperties: false,
  no numeric/string-length constraints, minItems 0 or 1 only, no recursion, local $refs only;
- a tool_choice {"type": "tool"} names one of the tools.
"""

from typing import Any

# The docs' list (GA on the Claude API, no beta header), dated ids accepted.
NATIVE_MODELS = (
    "claude-opus-4-5",
    "claude-opus-4-6",
    "claude-opus-4-7",
    "claude-sonnet-4-5",
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "claude-mythos-preview",
)
REFUSED_KEYWORDS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "maxItems",
    "uniqueItems",
)


def problem(body: dict) -> str | None:
    """Why the API would refuse this body's structured-output parts, or None."""
    model = body["model"]
    native = model.startswith(NATIVE_MODELS)
    fmt = (body.get("output_config") or {}).get("format")
    if fmt is not None:
        if not native:
            return f"output_config.format: structured outputs are not supported for {model}"
        if where := _schema_problem(fmt["schema"], fmt["schema"], "output_config.format.schema"):
            return where
    names = [tool["name"] for tool in body.get("tools") or []]
    for k, tool in enumerate(body.get("tools") or []):
        if tool.get("strict"):
            if not native:
                return f"tools.{k}.strict: strict tool use is not supported for {model}"
            schema = tool["input_schema"]
            if where := _schema_problem(schema, schema, f"tools.{k}.input_schema"):
                return where
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool" and choice.get("name") not in names:
        return f"tool_choice.name: no tool named {choice.get('name')!r} in tools"
    if len(set(names)) != len(names):
        return "tools: tool names must be unique"
    return None


def _schema_problem(node: Any, root: dict, path: str, seen: tuple = ()) -> str | None:
    if not isinstance(node, dict):
        return None
    for keyword in REFUSED_KEYWORDS:
        if keyword in node:
            return f"{path}: the '{keyword}' keyword is not supported"
    if node.get("minItems", 0) not in (0, 1):
        return f"{path}: minItems values other than 0 or 1 are not supported"
    if (node.get("type") == "object" or "properties" in node) and node.get(
        "additionalProperties"
    ) is not False:
        return f"{path}: 'additionalProperties' must be explicitly set to false for objects"
    if ref := node.get("$ref"):
        if not ref.startswith("#/$defs/") and not ref.startswith("#/definitions/"):
            return f"{path}: only local $refs to definitions are supported, not {ref!r}"
        if ref in seen:
            return f"{path}: recursive schemas are not supported"
        target = _resolve(root, ref)
        if target is None:
            return f"{path}: $ref {ref!r} does not resolve"
        return _schema_problem(target, root, ref, (*seen, ref))
    children = [(f"{path}.properties.{k}", v) for k, v in (node.get("properties") or {}).items()]
    for key in ("anyOf", "allOf", "oneOf"):
        children += [(f"{path}.{key}.{i}", v) for i, v in enumerate(node.get(key) or [])]
    if isinstance(node.get("items"), dict):
        children.append((f"{path}.items", node["items"]))
    for where, child in children:
        if found := _schema_problem(child, root, where, seen):
            return found
    return None


def _resolve(root: dict, ref: str) -> dict | None:
    _, key, name = ref.split("/", 2)
    return (root.get(key) or {}).get(name)


def instance(schema: Any, said: str, root: dict | None = None) -> Any:
    """A value that matches schema; its strings are what the user said."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return instance(_resolve(root, schema["$ref"]), said, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if o.get("type") != "null"]
        if options:
            return instance(options[0], said, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties")
        if not props:
            return {"answer": said}
        return {name: instance(sub, said, root) for name, sub in props.items()}
    if kind == "array":
        return [instance(schema.get("items") or {"type": "string"}, said, root)]
    formats = {"date-time": "2026-11-02T10:00:00Z", "date": "2026-11-02", "time": "10:00:00"}
    return {
        "string": formats.get(schema.get("format"), said),
        "integer": 3,
        "number": 1.5,
        "boolean": True,
        "null": None,
    }.get(kind, said)
