"""The gateway's models, one module per area; imported from here as before
(`from gateway.models import RequestLog`), which migrations' references rely on too."""

from gateway.configs.models import Config  # a model of this app, kept in its package
from gateway.models.logs import (
    ROLLUP_KEY,
    ROLLUP_LATENCY,
    ROLLUP_SUMS,
    ROLLUP_TTFT,
    Blob,
    LogImage,
    RequestLog,
    Rollup,
    blob_name,
)
from gateway.models.prices import ModelPrice
from gateway.models.prompts import Prompt, PromptVersion
from gateway.models.routing import (
    KEY_PREFIX,
    KIND_LABELS,
    SECRETS,
    ApiKey,
    Provider,
    hash_key,
    keys_limited_to,
    kind_choices,
    validate_base_url,
    validate_headers,
)

__all__ = [
    "KEY_PREFIX",
    "KIND_LABELS",
    "ROLLUP_KEY",
    "ROLLUP_LATENCY",
    "ROLLUP_SUMS",
    "ROLLUP_TTFT",
    "SECRETS",
    "ApiKey",
    "Config",
    "Blob",
    "LogImage",
    "ModelPrice",
    "Prompt",
    "PromptVersion",
    "Provider",
    "RequestLog",
    "Rollup",
    "blob_name",
    "hash_key",
    "keys_limited_to",
    "kind_choices",
    "validate_base_url",
    "validate_headers",
]
