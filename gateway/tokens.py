"""Counting text tokens offline. No Django, no network: ever.

OpenAI and Azure OpenAI models are counted with tiktoken, OpenAI's own tokenizer. tiktoken
downloads its encoding files on first use; Iris never lets it: the files ship in
gateway/tokenizers/ (gzipped) and are checked against the SHA-256 that the installed
tiktoken pins for them before use. A file that is missing or does not match is remembered
as a failure (logged once) and the count falls back to the approximation.

Elsewhere (other providers, a model tiktoken cannot map, such as an Azure deployment name
like "prod-vision") the count is OpenAI's documented rule of thumb: "1 token ~= 4 chars in
English" (https://help.openai.com/en/articles/4936856-what-are-tokens-and-how-to-count-them,
read 2026-11-26). `method` always says which was used.

Loading an encoding takes a few hundred milliseconds and about 80 MB of memory (o200k_base;
cl100k_base another 35 MB, loaded only for the older models that use it), once per process,
on first use: so it is opt-in, GATEWAY_TOKENIZER=tiktoken (see `use_tiktoken`).
"""

import base64
import gzip
import hashlib
import logging
import math
import threading
import types
from pathlib import Path
from typing import Any

try:
    import tiktoken
    import tiktoken.model
    from tiktoken_ext import openai_public
except ImportError:  # the approximation still works
    tiktoken = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

APPROXIMATION = "approximation: 4 characters a token"
PROVIDERS = frozenset({"openai", "azure-openai"})
DATA = Path(__file__).with_name("tokenizers")
SHIPPED = ("o200k_base", "cl100k_base")  # every current OpenAI model uses one of them
MAX_FILE = 8 * 1024 * 1024  # o200k_base is 3.6 MB unpacked: the bound on decompression

# Chat overhead, from OpenAI's cookbook "How to count tokens with tiktoken", section 6
# (https://cookbook.openai.com/examples/how_to_count_tokens_with_tiktoken, read
# 2026-11-26): 3 tokens a message, 1 more for a `name`, 3 for the reply's priming
# (<|start|>assistant<|message|>). Documented for gpt-3.5-turbo, gpt-4 and gpt-4o(-mini),
# which the cookbook matches by substring ("gpt-4" also catches gpt-4.1, gpt-4.5); other
# models (gpt-5, o-series) get the text alone.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
_OVERHEAD_MODELS = ("gpt-3.5-turbo", "gpt-35-turbo", "gpt-4")

_enabled = False  # GATEWAY_TOKENIZER=tiktoken turns it on at start-up (gateway/apps.py)
_lock = threading.Lock()
_encodings: dict[str, Any] = {}  # name → tiktoken.Encoding, or the Exception that stopped it


def count_text(provider: str, model: str, texts: list[str]) -> tuple[int, str]:
    """(tokens, how they were counted) for the texts of one request."""
    enc = encoding_for(provider, model)
    if enc is None:
        return approximate(texts), APPROXIMATION
    return sum(len(enc.encode_ordinary(text)) for text in texts), f"tiktoken {enc.name}"


def count_messages(provider: str, model: str, messages: list) -> tuple[int, str]:
    """A chat request's messages as the cookbook counts them: each message's role, text and
    name, plus the documented overhead where it is documented. Image parts are left to the
    image rules (gateway/providers/*_vision.py); tool definitions are not counted."""
    enc = encoding_for(provider, model)
    if enc is None:
        texts = [text for message in messages for text in _message_texts(message)]
        return approximate(texts), APPROXIMATION
    overhead = any(name in model.lower() for name in _OVERHEAD_MODELS)
    tokens = REPLY_PRIMING if overhead else 0
    for message in messages:
        tokens += sum(len(enc.encode_ordinary(text)) for text in _message_texts(message))
        if overhead:
            tokens += TOKENS_PER_MESSAGE
            tokens += TOKENS_PER_NAME if isinstance(message, dict) and message.get("name") else 0
    if overhead:
        return tokens, f"tiktoken {enc.name} + chat overhead (OpenAI cookbook)"
    return tokens, f"tiktoken {enc.name}, text only"


def _message_texts(message: object) -> list[str]:
    if not isinstance(message, dict):
        return []
    texts = [message[key] for key in ("role", "name") if isinstance(message.get(key), str)]
    content = message.get("content")
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        texts.extend(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return texts


def approximate(texts: list[str]) -> int:
    return math.ceil(sum(len(text) for text in texts) / 4)


def encoding_for(provider: str, model: str) -> Any:
    """The tiktoken Encoding for an OpenAI/Azure model, or None (another provider, a model
    tiktoken does not map, an encoding not shipped, or one that failed to load)."""
    if provider not in PROVIDERS or tiktoken is None or not _enabled:
        return None
    try:  # a pure lookup in tiktoken's table of names and prefixes: no I/O
        name = tiktoken.model.encoding_name_for_model(model.strip().lower())
    except KeyError:
        return None
    return encoding(name)


def encoding(name: str) -> Any:
    found = _encodings.get(name)
    if found is None:
        with _lock:
            found = _encodings.get(name)
            if found is None:
                try:
                    found = _load(name)
                except Exception as exc:  # remembered: never retried in this process
                    log.warning("tokenizer %s unavailable, approximating: %s", name, exc)
                    found = exc
                _encodings[name] = found
    return None if isinstance(found, Exception) else found


def use_tiktoken(enabled: bool) -> None:
    """Whether OpenAI models are counted with tiktoken (else the approximation)."""
    global _enabled
    _enabled = enabled


def warm() -> None:
    """Load the shipped encodings now (at start-up, say) rather than on first use."""
    for name in SHIPPED:
        encoding(name)


def _load(name: str) -> Any:
    if name not in SHIPPED or tiktoken is None:
        raise LookupError(f"encoding {name} is not shipped with Iris")
    with gzip.open(DATA / f"{name}.tiktoken.gz", "rb") as f:
        data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise ValueError(f"{name}.tiktoken is larger than {MAX_FILE} bytes")

    def local_bpe(blobpath: str, expected_hash: str | None = None) -> dict[bytes, int]:
        # Stands in for tiktoken.load.load_tiktoken_bpe, which would fetch `blobpath`.
        if hashlib.sha256(data).hexdigest() != expected_hash:
            raise ValueError(f"{name}.tiktoken does not match the hash tiktoken pins")
        return {
            base64.b64decode(token): int(rank)
            for token, rank in (line.split() for line in data.splitlines() if line)
        }

    # tiktoken's own constructor (its regex and special tokens) run with `local_bpe` in
    # place of the downloader: a copy of the function with other globals, nothing patched.
    constructor = openai_public.ENCODING_CONSTRUCTORS[name]
    offline = types.FunctionType(
        constructor.__code__, {**constructor.__globals__, "load_tiktoken_bpe": local_bpe}
    )
    return tiktoken.Encoding(**offline())
