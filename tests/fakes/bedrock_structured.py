"""The fake Bedrock's structured outputs: what Converse refuses beyond botocore's shapes, and
answers that match a schema. https://docs.aws.amazon.com/bedrock/latest/userguide/structured-output.html

botocore's ParamValidator (in bedrock.py) already checks the shapes: outputConfig.textFormat
{type: "json_schema", structure: {jsonSchema: {schema: string, name, description}}},
toolSpec.strict a boolean, toolChoice a union of auto/any/tool. This adds what it cannot say:
- outputConfig and strict tools exist only on the models AWS lists;
- the schema is a string holding a JSON object schema in the supported subset (every object
  closed with additionalProperties: false, no numeric or length bounds, local $refs only);
- toolChoice {"tool"} names one of the tools, and only Claude 3+ and Nova take it;
- tool names are unique.
A request with outputConfig is answered with JSON text matching the schema; one whose
toolChoice forces a tool (tool, or any) with a toolUse whose input matches its inputSchema.
"""

import json
import re
import uuid

from tests.fakes.anthropic_structured import _schema_problem, instance

NATIVE = re.compile(
    r"(?:^|[./])(?:anthropic\.claude-(?:haiku-4-5|sonnet-4-5|sonnet-4-6|opus-4-5|opus-4-6)"
    r"|qwen\.qwen3|openai\.gpt-oss|deepseek\.v3|google\.gemma-3|minimax\.minimax-m2"
    r"|moonshot(?:ai)?\.kimi-k2|nvidia\.nemotron)"
)
NAMES_A_TOOL = re.compile(r"anthropic\.claude-3|anthropic\.claude-[a-z]+-4|amazon\.nova-")


def problem(params: dict) -> str | None:
    """Why Converse would refuse this request's structured-output parts, or None."""
    model = params["modelId"]
    native = bool(NATIVE.search(model))
    text_format = (params.get("outputConfig") or {}).get("textFormat")
    if text_format is not None:
        if not native:
            return f"This model doesn't support structured outputs (outputConfig): {model}"
        json_schema = text_format["structure"].get("jsonSchema")
        if json_schema is None:
            return "outputConfig.textFormat.structure must hold a jsonSchema"
        try:
            schema = json.loads(json_schema["schema"])
        except ValueError:
            return "outputConfig.textFormat.structure.jsonSchema.schema is not valid JSON"
        if not isinstance(schema, dict) or schema.get("type") != "object":
            return "outputConfig.textFormat.structure.jsonSchema.schema must be an object schema"
        if where := _schema_problem(schema, schema, "jsonSchema.schema"):
            return where
    config = params.get("toolConfig") or {}
    specs = [tool["toolSpec"] for tool in config.get("tools") or [] if "toolSpec" in tool]
    for k, spec in enumerate(specs):
        if spec.get("strict"):
            if not native:
                return f"toolConfig.tools.{k}.toolSpec.strict is not supported for {model}"
            schema = spec["inputSchema"]["json"]
            if where := _schema_problem(schema, schema, f"tools.{k}.inputSchema.json"):
                return where
    names = [spec["name"] for spec in specs]
    if len(set(names)) != len(names):
        return "The tool names in toolConfig.tools must be unique."
    named = (config.get("toolChoice") or {}).get("tool")
    if named is not None:
        if not NAMES_A_TOOL.search(model):
            return "This model doesn't support the toolConfig.toolChoice.tool field."
        if named["name"] not in names:
            return f"toolConfig.toolChoice.tool.name {named['name']!r} names no tool."
    return None


def reply(params: dict, said: str) -> tuple[list[dict], str] | None:
    """(content blocks, stopReason) for JSON asked for by outputConfig or a forced tool; None
    for a request that asks for neither."""
    text_format = (params.get("outputConfig") or {}).get("textFormat")
    config = params.get("toolConfig") or {}
    choice = config.get("toolChoice") or {}
    specs = [tool["toolSpec"] for tool in config.get("tools") or [] if "toolSpec" in tool]
    if specs and ("tool" in choice or "any" in choice):
        name = choice["tool"]["name"] if "tool" in choice else specs[0]["name"]
        spec = next(spec for spec in specs if spec["name"] == name)
        use = {
            "toolUseId": f"tooluse_{uuid.uuid4().hex[:22]}",
            "name": name,
            "input": instance(spec["inputSchema"]["json"], said),
        }
        return [{"toolUse": use}], "tool_use"
    if text_format is not None:
        schema = json.loads(text_format["structure"]["jsonSchema"]["schema"])
        return [{"text": json.dumps(instance(schema, said))}], "end_turn"
    return None
