"""Bedrock Converse and the OpenAI chat parameters that have no plain one-to-one field:
`response_format`, `strict` tools, `top_k`, `service_tier`, `user`, and the parameters Converse
cannot honour. Pure, no I/O: used by bedrock.py. The response_format plan, the schema subset
check and the 400s for what cannot be honoured are anthropic_structured's, given Bedrock's
model list and parameter table.

Structured output on Converse (read 2026-11):
https://docs.aws.amazon.com/bedrock/latest/userguide/structured-output.html and
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_OutputConfig.html
- `outputConfig.textFormat = {"type": "json_schema", "structure": {"jsonSchema": {"schema":
  <the schema as a JSON *string*>, "name", "description"}}}` constrains the reply's text, and
  `toolSpec.strict: true` a tool's input. Bedrock-wide schema rules match Claude's subset
  (every object closed with additionalProperties: false, no numeric or length bounds), so
  anthropic_structured.fits_native decides for every model.
- Models (AWS, Feb 2026 launch list; Anthropic's Bedrock page adds Sonnet 4.6): Claude Haiku
  4.5, Sonnet 4.5, Sonnet 4.6, Opus 4.5, Opus 4.6 (not Opus 4.7 nor Mythos on Converse), and
  the open-weight Qwen3, gpt-oss, DeepSeek V3.1, Gemma 3, MiniMax M2, Kimi K2, Nemotron. Amazon
  Nova, Llama, Mistral and older Claude get the forced tool.
- The forced tool: toolConfig.toolChoice {"tool": {"name"}} names it, which botocore says only
  Claude 3+ and Nova take; other models get {"any": {}} ("no text is generated"), the JSON
  tool then being the only one, or the answer among the client's tools.
"""

import re

import orjson

from gateway.chat import invalid
from gateway.providers import anthropic_structured as shared
from gateway.providers.anthropic_structured import Structured

# (family, major, minor) of the Claude models with outputConfig on Converse: a list, not a
# threshold, since Opus 4.7 does not have it there.
NATIVE_CLAUDE = frozenset(
    {("haiku", 4, 5), ("sonnet", 4, 5), ("sonnet", 4, 6), ("opus", 4, 5), ("opus", 4, 6)}
)
# Bedrock model ids of the open-weight families, after any region prefix ("us.") or ARN.
_NATIVE_OPEN = re.compile(
    r"(?:^|[./])(?:qwen\.qwen3|openai\.gpt-oss|deepseek\.v3|google\.gemma-3|minimax\.minimax-m2"
    r"|moonshot(?:ai)?\.kimi-k2|nvidia\.nemotron)"
)
_CLAUDE = re.compile(r"anthropic\.claude-(?!v\d|instant)")  # Claude 3 and later
_NOVA = re.compile(r"amazon\.nova-")
# requestMetadata values: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
_METADATA_VALUE = re.compile(r"[a-zA-Z0-9\s:_@$#=/+,\-.]{0,256}")

UNSUPPORTED: dict[str, tuple[tuple, str]] = {
    "n": ((1,), "Converse writes one choice per request"),
    "logprobs": ((False,), "Converse returns no token log probabilities"),
    "top_logprobs": ((0,), "Converse returns no token log probabilities"),
    "presence_penalty": ((0,), "Converse has no presence penalty"),
    "frequency_penalty": ((0,), "Converse has no frequency penalty"),
    "logit_bias": (({},), "Converse has no logit bias"),
    "seed": ((), "Converse has no sampling seed"),
    "audio": ((), "Converse writes no audio"),
    "modalities": ((["text"],), "Iris asks Converse for text only"),
    "prediction": ((), "Converse has no predicted outputs"),
    "web_search_options": ((), "Converse has no web search"),
    "functions": (([],), "the legacy functions API is not translated; use tools"),
    "function_call": ((), "the legacy functions API is not translated; use tool_choice"),
    "reasoning_effort": (("none",), "Iris maps reasoning_effort to Claude models only here"),
    "verbosity": (("medium",), "Converse has no verbosity setting"),
    "moderation": ((), "Converse has no moderation setting; use a guardrail"),
    "parallel_tool_calls": ((True,), "Converse cannot turn parallel tool calls off"),
}
_TOP_K = ((), "Iris sends top_k to Claude and Nova models only (additionalModelRequestFields)")
# OpenAI's service_tier → Converse's serviceTier.type; "auto" asks for nothing (the default).
SERVICE_TIERS = {"auto": None, "default": "default", "flex": "flex", "priority": "priority"}
HONOURED = frozenset(
    {"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
     "temperature", "top_p", "top_k", "stop", "user", "safety_identifier", "tools",
     "tool_choice", "response_format", "service_tier", "drop_params", "reasoning_effort"}
)  # fmt: skip


def native_output(model: str) -> bool:
    """Whether Converse takes outputConfig.textFormat (and strict tools) for this model id."""
    lowered = model.lower()
    if _NATIVE_OPEN.search(lowered):
        return True
    return "anthropic." in lowered and shared.claude_version(lowered) in NATIVE_CLAUDE


def names_a_tool(model: str) -> bool:
    """Whether toolChoice {"tool": {"name"}} is taken: Claude 3+ and Nova only (botocore)."""
    return bool(_CLAUDE.search(model.lower()) or _NOVA.search(model.lower()))


def check_params(body: dict, options: dict, model: str) -> list[str]:
    """What the translation leaves out (to log); 400 unsupported_parameter for what it cannot
    honour unless the request (or the provider record) opts into dropping it."""
    table = UNSUPPORTED
    if _CLAUDE.search(model.lower()):  # Claude thinks (bedrock_thinking.py)
        table = {k: v for k, v in UNSUPPORTED.items() if k != "reasoning_effort"}
    if body.get("top_k") is not None and not _top_k_field(model, 0):
        table = {**table, "top_k": _TOP_K}
    dropped = shared.check_params(
        body, options, route="bedrock", unsupported=table, tiers=SERVICE_TIERS, honoured=HONOURED
    )
    user = body.get("safety_identifier") or body.get("user")
    if user is not None and not _user_metadata(user):
        dropped.append("safety_identifier" if body.get("safety_identifier") else "user")
    return dropped


def plan(body: dict, model: str, dropped: list[str]) -> Structured | None:
    return shared.structured(body, model, dropped, native=native_output)


def forced_tool(body: dict, model: str) -> str:
    """The tool whose input is the JSON answer (to unwrap into content), or ""."""
    return shared.forced_tool(body, model, native=native_output)


def extras(body: dict, model: str, structured: Structured | None) -> dict:
    """The Converse members beside messages and inferenceConfig: outputConfig,
    additionalModelRequestFields (top_k), serviceTier, requestMetadata (the user)."""
    out: dict = {}
    if structured and structured.native:
        schema = {"schema": orjson.dumps(structured.schema).decode()}
        spec = body["response_format"]["json_schema"]
        schema["name"] = spec["name"]
        if isinstance(spec.get("description"), str) and spec["description"]:
            schema["description"] = spec["description"]
        text_format = {"type": "json_schema", "structure": {"jsonSchema": schema}}
        out["outputConfig"] = {"textFormat": text_format}
    if body.get("top_k") is not None and (fields := _top_k_field(model, body["top_k"])):
        out["additionalModelRequestFields"] = fields
    if tier := SERVICE_TIERS.get(body.get("service_tier")):
        out["serviceTier"] = {"type": tier}
    user = body.get("safety_identifier") or body.get("user")
    if user is not None and _user_metadata(user):
        out["requestMetadata"] = {"user": user}
    return out


def _top_k_field(model: str, top_k: object) -> dict | None:
    """Claude takes top_k as in its own API; Nova as inferenceConfig.topK (AWS's model
    parameter pages, Converse examples)."""
    if _CLAUDE.search(model.lower()):
        return {"top_k": top_k}
    if _NOVA.search(model.lower()):
        return {"inferenceConfig": {"topK": top_k}}
    return None


def _user_metadata(user: object) -> bool:
    return isinstance(user, str) and bool(_METADATA_VALUE.fullmatch(user))


def tool_config(
    body: dict, messages: list[dict], model: str, structured: Structured | None, dropped: list
) -> dict | None:
    """toolConfig: the client's function tools (strict kept where Converse enforces it) and
    tool_choice, plus the forced JSON tool when the plan is one."""
    specs = [_tool_spec(tool, k, model, dropped) for k, tool in enumerate(body.get("tools") or ())]
    choice = body.get("tool_choice")
    used = any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"])
    if choice == "none" and not used:
        specs = []  # Converse has no "none"; tools stay when the history uses them, as it must
    forced = structured is not None and not structured.native
    if forced:
        spec = {"name": structured.tool, "description": structured.description}
        specs.append({"toolSpec": {**spec, "inputSchema": {"json": structured.schema}}})
    if not specs:
        return None
    config: dict = {"tools": specs}
    if forced and (len(specs) == 1 or choice == "none"):
        only = {"tool": {"name": structured.tool}} if names_a_tool(model) else {"any": {}}
        config["toolChoice"] = only
    elif forced and not isinstance(choice, dict):
        config["toolChoice"] = {"any": {}}  # a client tool, or the JSON answer
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        config["toolChoice"] = {"tool": {"name": (choice.get("function") or {}).get("name")}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    return config


def _tool_spec(tool: object, k: int, model: str, dropped: list) -> dict:
    fn = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(fn, dict) or tool.get("type") != "function" or not fn.get("name"):
        raise invalid(f"tools[{k}] must be a function tool with a name.", f"tools.{k}")
    schema = fn.get("parameters") or {"type": "object", "properties": {}}
    spec = {"name": fn["name"], "inputSchema": {"json": schema}}
    if fn.get("description"):  # an empty description is refused (NonEmptyString)
        spec["description"] = fn["description"]
    if shared.strict_tool(fn, model, k, dropped, native=native_output):
        spec["strict"] = True
    return {"toolSpec": spec}
