"""Masking secrets in what the log keeps: request headers, URLs, error messages.

The rule is an allow-list, not a list of secret-sounding words: a credential can travel under
any header name (`x-auth`, `x-goog-api-key`, a proxy's own), so every header value is masked
but those of headers known to carry nothing secret.
"""

import re
from typing import Any

from gateway import http

REDACTED = "[redacted]"

# Headers whose values are kept. Each is protocol plumbing, an SDK's self-description, or an
# Iris/Portkey option that names where a request goes (never with what credentials):
_PLAIN_HEADERS = frozenset(
    {
        # HTTP plumbing: content negotiation and framing, the client's self-description.
        "accept",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "host",
        "user-agent",
        # W3C trace context: random ids that tie the request to the client's traces.
        "traceparent",
        "tracestate",
        # Routing and tracing options (x-portkey-metadata is stored as its own column anyway).
        "x-portkey-provider",
        "x-portkey-trace-id",
        "x-portkey-span-id",
        "x-portkey-parent-span-id",
        "x-portkey-span-name",
        "x-portkey-metadata",
        # Provider options that pick a deployment, region or API version (see targets.py).
        "x-portkey-azure-api-version",
        "x-portkey-azure-deployment-id",
        "x-portkey-azure-resource-name",
        "x-portkey-anthropic-version",
        "x-portkey-anthropic-beta",
        "x-portkey-aws-region",
        "anthropic-version",
        "anthropic-beta",
    }
)
# The openai and anthropic SDKs describe themselves (language, OS, version, retry count).
_PLAIN_PREFIXES = ("x-stainless-",)
_CUSTOM_HOST = "x-portkey-custom-host"  # kept, as redact_url leaves it: no user:pass@, no ?values

# scheme://userinfo@ in any scheme (https, postgres, redis...); the greedy part runs to the
# authority's last "@", since a password may hold a raw "@" too, but not past a quote.
_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/?#\"'<>]*@")


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Header names lowercased; every value masked unless its header is known to be plain."""
    redacted = {}
    for name, value in headers.items():
        name = name.lower()
        if name == _CUSTOM_HOST:
            redacted[name] = http.redact_url(value)
        elif name in _PLAIN_HEADERS or name.startswith(_PLAIN_PREFIXES):
            redacted[name] = value
        else:
            redacted[name] = REDACTED
    return redacted


def scrub_text(text: str) -> str:
    """A message fit for the log: any URL in it loses its user:password@."""
    return _USERINFO.sub(r"\1", text) if "@" in text else text


def scrub_json(value: Any) -> Any:
    """scrub_text over every string of a JSON value (an upstream's error body)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {key: scrub_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_json(item) for item in value]
    return value
