"""Masking secrets in what the log keeps: request headers, URLs."""

from gateway import http

# Header names are split on "-" and matched word by word ("x-portkey-provider" is no key).
_SECRET_WORDS = {
    "authorization",
    "key",
    "secret",
    "token",
    "cookie",
    "signature",
    "password",
    "credential",
    "apikey",
}


def redact_headers(headers: dict) -> dict:
    redacted = {
        name.lower(): "[redacted]" if _SECRET_WORDS & set(name.lower().split("-")) else value
        for name, value in headers.items()
    }
    if host := redacted.get("x-portkey-custom-host"):  # may carry user:pass@ or ?key=
        redacted["x-portkey-custom-host"] = http.redact_url(host)
    return redacted
