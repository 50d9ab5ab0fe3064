"""A logged request as code to replay it: curl and the openai Python SDK, secrets as env vars."""

import json
import re
import shlex
from typing import Any

from gateway.models import RequestLog

# Only our own placeholders are left for the shell to expand: a logged value is client input.
_PLACEHOLDER = re.compile(r"^(Bearer )?\$[A-Z][A-Z0-9_]*$")
_SECRETS = {
    "authorization": "Bearer $PROVIDER_API_KEY",
    "x-portkey-api-key": "$IRIS_API_KEY",
}


# Where each endpoint's request is sent again; an edit or a variation carries images the
# snippet would have to upload as files, so only these are offered.
PATHS = {"chat.completions": "/v1/chat/completions", "images.generations": "/v1/images/generations"}


def replayable(log: RequestLog, body: object) -> bool:
    """Whether the request can be written as a snippet (a parsed body of a known endpoint)."""
    return log.endpoint in PATHS and isinstance(body, dict) and "_unparsed" not in body


def replay_headers(log: RequestLog) -> dict[str, str]:
    """The gateway headers of the logged request; redacted values become env-var placeholders."""
    headers = {"x-portkey-api-key": _SECRETS["x-portkey-api-key"]}
    for name, value in sorted((log.request_headers or {}).items()):
        name = name.lower()
        if name == "authorization" or not name.startswith("x-portkey-"):
            continue
        if value == "[redacted]":
            env = name.removeprefix("x-portkey-").replace("-", "_").upper()
            value = _SECRETS.get(name, f"${env}")
        headers[name] = str(value)
    if "authorization" in (log.request_headers or {}):
        headers["authorization"] = _SECRETS["authorization"]
    return headers


def curl(body: dict[str, Any], *, url: str, headers: dict[str, str]) -> str:
    """A curl command; the body goes through a quoted heredoc, so nothing in it is expanded."""
    lines = [f"curl {shlex.quote(url)}"]
    if body.get("stream"):
        lines.append("--no-buffer")
    lines.append(_header("content-type", "application/json"))
    lines.extend(_header(name, value) for name, value in headers.items())
    lines.append("--data-binary @- <<'IRIS_JSON'")
    command = " \\\n  ".join(lines)
    return f"{command}\n{json.dumps(body, indent=2, ensure_ascii=False)}\nIRIS_JSON\n"


def _header(name: str, value: str) -> str:
    if _PLACEHOLDER.match(value):
        return f'-H "{name}: {value}"'
    return f"-H {shlex.quote(f'{name}: {value}')}"


def python(
    body: dict[str, Any],
    *,
    base_url: str,
    headers: dict[str, str],
    endpoint: str = "chat.completions",
) -> str:
    """A script using the official openai SDK with Iris as its base URL."""
    auth = headers.get("authorization", "")
    extra = {k: v for k, v in headers.items() if k != "authorization"}
    lines = [
        *(["import base64"] if endpoint.startswith("images.") else []),
        "import os",
        "",
        "from openai import OpenAI",
        "",
        "client = OpenAI(",
        f"    base_url={base_url!r},",
        f"    api_key={_py_env(auth.removeprefix('Bearer ')) if auth else repr('unused')},",
        "    default_headers={",
        *(f"        {k!r}: {_py_env(v)}," for k, v in extra.items()),
        "    },",
        ")",
        f"request = {_py(body, 0)}",
    ]
    if endpoint == "images.generations":
        lines += _save_images(bool(body.get("stream")))
    elif body.get("stream"):
        lines += [
            "for chunk in client.chat.completions.create(**request):",
            "    if chunk.choices and chunk.choices[0].delta.content:",
            '        print(chunk.choices[0].delta.content, end="", flush=True)',
            "print()",
        ]
    else:
        lines += [
            "response = client.chat.completions.create(**request)",
            "print(response.choices[0].message.content)",
        ]
    return "\n".join(lines) + "\n"


def _save_images(stream: bool) -> list[str]:
    save = [
        "        name = f\"image-{i}.{request.get('output_format', 'png')}\"",
        "        open(name, 'wb').write(base64.b64decode(b64))",
        "        print('saved', name)",
    ]
    if stream:
        return [
            "for i, event in enumerate(client.images.generate(**request)):",
            "    if b64 := getattr(event, 'b64_json', None):",
            *save,
        ]
    return [
        "response = client.images.generate(**request)",
        "for i, image in enumerate(response.data):",
        "    if b64 := image.b64_json:",
        *save,
    ]


def _py_env(value: str) -> str:
    if _PLACEHOLDER.match(value) and value.startswith("$"):
        return f"os.environ[{value[1:]!r}]"
    return repr(value)


def _py(value: Any, depth: int) -> str:
    """A Python literal, indented like JSON (pprint would cut long base64 into many lines)."""
    pad, inner = "    " * depth, "    " * (depth + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{k!r}: {_py(v, depth + 1)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        items = [f"{inner}{_py(v, depth + 1)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    return repr(value)
