"""Claude and the OpenAI chat parameters that have no plain one-to-one field: `response_format`
(structured output), `strict`, and the parameters Claude cannot honour. Pure, no I/O: used by
anthropic.py, and by bedrock_structured.py with Bedrock's own model list (`native`) and table
of parameters (check_params's keywords).

Structured output, https://platform.claude.com/docs/en/build-with-claude/structured-outputs
(read 2026-11): `output_config.format` {"type": "json_schema", "schema"} constrains the reply's
text to the schema, and `strict: true` on a tool does the same for its input. Both are GA
without a beta header (the old `output_format` + structured-outputs-2025-11-13 beta is gone),
on Opus 4.5/4.6/4.7, Sonnet 4.5/4.6, Haiku 4.5 and Mythos Preview, and only for schemas in a
subset of JSON Schema (see fits_native). Everywhere else Iris forces a tool whose input_schema
is the schema and unwraps its input into message.content: with tool_choice "any"/"tool" Claude
writes no text before the tool_use (docs: tool-use/implement-tool-use#forcing-tool-use).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from gateway.chat import invalid

# Families that have native structured outputs from this version on: every Opus, Sonnet and
# Haiku release since 4.5 has had it, so later ones are taken to have it too. Other names
# (Claude 3.x, 4.0, 4.1, fine-tunes behind a custom host, a family the docs do not list) get
# the forced tool: it works on every Claude model with tool use and loses only the grammar
# guarantee, which `dropped` then records when the client asked for `strict`.
NATIVE_SINCE = {"opus": (4, 5), "sonnet": (4, 5), "haiku": (4, 5)}
NATIVE_FAMILIES = ("mythos",)  # every version
# "claude-sonnet-4-5-20250929", "claude-opus-4-20250514" (4.0), "claude-sonnet-4-5@20250929"
# (Vertex), "us.anthropic.claude-haiku-4-5-20251001-v1:0" (Bedrock), "claude-mythos-preview".
_MODEL = re.compile(r"claude-([a-z]+)(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?=$|[-@:.])")
FORCED_TOOL_DESCRIPTION = "Respond to the user by calling this tool with your whole answer."
JSON_OBJECT_TOOL = "json_object"
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")

# Keywords outside the subset native structured outputs accept (the docs' "JSON Schema
# limitations"): numeric and string-length constraints, array constraints beyond minItems 0/1.
_UNSUPPORTED_KEYWORDS = frozenset(
    {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
     "maxLength", "maxItems", "uniqueItems", "contains", "minContains", "maxContains",
     "patternProperties", "propertyNames", "minProperties", "maxProperties", "not",
     "if", "then", "else", "dependentSchemas", "dependentRequired"}
)  # fmt: skip
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")


def claude_version(model: str) -> tuple[str, int, int] | None:
    """("sonnet", 4, 5) for any spelling of Claude Sonnet 4.5's id; None for a name it cannot
    read (Claude 3.x ids put the version first: "claude-3-5-sonnet")."""
    match = _MODEL.search(model.lower())
    return (match[1], int(match[2] or 0), int(match[3] or 0)) if match else None


def has_native_structured_outputs(model: str) -> bool:
    version = claude_version(model)
    if not version:
        return False
    family, major, minor = version
    if family in NATIVE_FAMILIES:
        return True
    return family in NATIVE_SINCE and (major, minor) >= NATIVE_SINCE[family]


def fits_native(schema: object) -> bool:
    """Whether Claude's constrained decoding takes this schema: an object at the root, every
    object closed with additionalProperties: false, only supported keywords, $refs to the
    root's own $defs that never recurse."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return False
    defs = {
        f"#/{key}/{name}": sub
        for key in ("$defs", "definitions")
        for name, sub in (schema.get(key) or {}).items()
    }
    refs: dict[str, set[str]] = {name: set() for name in ("#", *defs)}  # name → refs in it
    if not _closed(schema, refs["#"], root=True):
        return False
    if not all(_closed(sub, refs[name]) for name, sub in defs.items()):
        return False
    if any(ref not in defs for found in refs.values() for ref in found):
        return False  # recursion through the root, an external or a deeper pointer
    return not _cycle(refs)


def _closed(node: object, refs: set[str], *, root: bool = False) -> bool:
    """node and everything below it in the subset; the $refs met are added to refs."""
    if isinstance(node, bool):
        return True
    if not isinstance(node, dict) or _UNSUPPORTED_KEYWORDS & node.keys():
        return False
    if node.get("minItems", 0) not in (0, 1):
        return False
    is_object = node.get("type") == "object" or "properties" in node
    if is_object and node.get("additionalProperties") is not False:
        return False
    if not root and ("$defs" in node or "definitions" in node):
        return False  # only the root's definitions are resolved
    if "$ref" in node:
        refs.add(str(node["$ref"]))
    children = list((node.get("properties") or {}).values())
    for key in _SCHEMA_LISTS:
        children.extend(node.get(key) or [])
    items = node.get("items")
    children.extend(items if isinstance(items, list) else [] if items is None else [items])
    return all(_closed(child, refs) for child in children)


def _cycle(refs: dict[str, set[str]]) -> bool:
    done: set[str] = set()

    def visit(name: str, path: set[str]) -> bool:
        if name in path:
            return True
        if name in done:
            return False
        found = any(visit(ref, path | {name}) for ref in refs.get(name, ()))
        done.add(name)
        return found

    return any(visit(name, set()) for name in refs)


@dataclass(frozen=True)
class Structured:
    """How one request gets JSON out of Claude: output_config.format, or a forced tool."""

    native: bool
    schema: dict
    tool: str = ""  # the forced tool's name; its tool_use input becomes message.content
    description: str = FORCED_TOOL_DESCRIPTION


def structured(
    body: dict,
    model: str,
    dropped: list[str],
    *,
    native: Callable[[str], bool] = has_native_structured_outputs,
) -> Structured | None:
    """The plan for `response_format`, or None for text. A `strict` it cannot keep (forced tool)
    is appended to dropped; a malformed response_format is a 400 naming the field. `native`
    says which models take the schema natively (by default, on Anthropic's own API)."""
    fmt = body.get("response_format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":  # no schema: a tool that takes any object
        return _forced(body, JSON_OBJECT_TOOL, {"type": "object"}, "response_format.type")
    if kind != "json_schema":
        raise invalid(
            "response_format.type must be one of text, json_object, json_schema.",
            "response_format.type",
        )
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise invalid(
            "response_format.json_schema must be an object with a name.",
            "response_format.json_schema",
        )
    name, schema = spec["name"], spec.get("schema")
    schema = {"type": "object"} if schema is None else schema
    if not _TOOL_NAME.fullmatch(name):
        raise invalid(
            "response_format.json_schema.name must be 1 to 64 letters, digits, _ or -.",
            "response_format.json_schema.name",
        )
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise invalid(
            "response_format.json_schema.schema: structured output on this route needs an "
            'object schema at the root ({"type": "object", ...}).',
            "response_format.json_schema.schema",
        )
    if native(model) and fits_native(schema):
        return Structured(True, schema)
    if spec.get("strict"):
        dropped.append("response_format.json_schema.strict")
    where = "response_format.json_schema.name"
    return _forced(body, name, schema, where, spec.get("description"))


def _forced(body: dict, name: str, schema: dict, where: str, description: str = "") -> Structured:
    tools = [tool for tool in body.get("tools") or [] if isinstance(tool, dict)]
    taken = {(tool.get("function") or {}).get("name") for tool in tools}
    if name in taken:
        raise invalid(
            f"The tool name {name!r} is taken: Iris asks the model for the JSON answer through a "
            f"tool of that name ({where}). Rename your tool.",
            where,
        )
    return Structured(False, schema, name, description or FORCED_TOOL_DESCRIPTION)


def apply_structured(out: dict, plan: Structured, body: dict) -> None:
    """Add the plan to an Anthropic body: output_config, or the JSON tool and a tool_choice
    that makes Claude call a tool (with no tools of the client's, that one)."""
    if plan.native:
        out["output_config"] = {"format": {"type": "json_schema", "schema": plan.schema}}
        return
    tool = {"name": plan.tool, "description": plan.description, "input_schema": plan.schema}
    out["tools"] = [*out.get("tools", []), tool]
    choice = body.get("tool_choice")
    if not body.get("tools") or choice == "none":
        out["tool_choice"] = {"type": "tool", "name": plan.tool, "disable_parallel_tool_use": True}
    elif not isinstance(choice, dict):
        # The client's tools stay callable; answering goes through the JSON tool. A function
        # the client forces keeps its own tool_choice (no JSON answer this turn).
        out["tool_choice"] = {"type": "any", **_parallel(body)}


def _parallel(body: dict) -> dict:
    return {"disable_parallel_tool_use": True} if body.get("parallel_tool_calls") is False else {}


def forced_tool(
    body: dict, model: str, *, native: Callable[[str], bool] = has_native_structured_outputs
) -> str:
    """The name of the tool whose input is the JSON answer, or "" (no forced tool)."""
    plan = structured(body, model, [], native=native)
    return plan.tool if plan and not plan.native else ""


def strict_tool(
    fn: dict,
    model: str,
    k: int,
    dropped: list[str],
    *,
    native: Callable[[str], bool] = has_native_structured_outputs,
) -> bool:
    """Whether tools[k] goes out with `strict: true`; a `strict` Claude cannot enforce (older
    model, schema outside the subset) is recorded in dropped rather than refused: the call is
    still made, and OpenAI's own Agents SDK sends strict on every function tool."""
    schema = fn.get("parameters")
    if not fn.get("strict") or schema is None:  # no parameters: no input to constrain
        return False
    if native(model) and fits_native(schema):
        return True
    dropped.append(f"tools.{k}.function.strict")
    return False


# OpenAI chat parameters Claude has no equivalent for, with the values that ask for nothing
# (OpenAI's defaults: n=1, logprobs=false… are not refused) and why each cannot be honoured.
UNSUPPORTED: dict[str, tuple[tuple, str]] = {
    "n": ((1,), "Claude writes one choice per request"),
    "logprobs": ((False,), "Claude returns no token log probabilities"),
    "top_logprobs": ((0,), "Claude returns no token log probabilities"),
    "presence_penalty": ((0,), "Claude has no presence penalty"),
    "frequency_penalty": ((0,), "Claude has no frequency penalty"),
    "logit_bias": (({},), "Claude has no logit bias"),
    "seed": ((), "Claude has no sampling seed"),
    "audio": ((), "Claude writes no audio"),
    "modalities": ((["text"],), "Claude writes text only"),
    "prediction": ((), "Claude has no predicted outputs"),
    "web_search_options": ((), "Iris does not map OpenAI's web search to Claude's tool"),
    "functions": (([],), "the legacy functions API is not translated; use tools"),
    "function_call": ((), "the legacy functions API is not translated; use tool_choice"),
    "verbosity": (("medium",), "Claude has no verbosity setting"),
    "moderation": ((), "Claude has no moderation setting"),
}
# OpenAI's service_tier → Anthropic's; the others (flex, scale, priority, fast) have none.
SERVICE_TIERS = {"auto": "auto", "default": "standard_only"}
# Translated by anthropic.py (reasoning_effort by anthropic_thinking.py), or consumed by Iris
# (drop_params).
HONOURED = frozenset(
    {"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
     "temperature", "top_p", "top_k", "stop", "user", "safety_identifier", "tools",
     "tool_choice", "parallel_tool_calls", "response_format", "service_tier", "drop_params",
     "reasoning_effort"}
)  # fmt: skip
# Left out without a trace, as OpenAI would not change the reply for them: store (Iris's log
# keeps every completion anyway), metadata (stored-completion tags), prompt cache hints.
IGNORED = frozenset(
    {"store", "metadata", "prompt_cache_key", "prompt_cache_retention", "prompt_cache_options"}
)
_YES = ("true", "1", "yes")


def drops_params(body: dict, options: dict) -> bool:
    """The client's opt-in to dropping what Claude cannot honour: LiteLLM's `drop_params: true`
    in the body, or the `x-portkey-drop-params: true` header (options["drop-params"])."""
    return body.get("drop_params") is True or str(options.get("drop-params", "")).lower() in _YES


def check_params(
    body: dict,
    options: dict,
    *,
    route: str = "anthropic",
    unsupported: dict[str, tuple[tuple, str]] = UNSUPPORTED,
    tiers: dict = SERVICE_TIERS,
    honoured: frozenset[str] = HONOURED,
) -> list[str]:
    """The parameters this translation leaves out, to log. One the route cannot honour is a 400
    naming it unless the request opts into dropping; an unknown (non-OpenAI) key is recorded.
    The keywords describe another route (Bedrock's): its table, service tiers and mapped keys."""
    refused = [
        name
        for name, (inert, _) in unsupported.items()
        if body.get(name) is not None and body[name] not in inert
    ]
    tier = body.get("service_tier")
    if tier is not None and tier not in tiers:
        refused.append("service_tier")
    if refused and not drops_params(body, options):
        first = refused[0]
        why = unsupported[first][1] if first in unsupported else f"it has no {tier!r} tier"
        others = f" (also: {', '.join(refused[1:])})" if refused[1:] else ""
        raise invalid(
            f"{first} is not supported on the {route} route: {why}{others}. Remove it, or "
            'send "drop_params": true (or the header x-portkey-drop-params: true) to have '
            "Iris drop it.",
            first,
            code="unsupported_parameter",
        )
    unknown = sorted(set(body) - honoured - IGNORED - set(unsupported))
    return refused + unknown
