"""The admin: providers and their credentials, gateway API keys, and the request log."""

from gateway.admin import keys, logs, providers

__all__ = ["keys", "logs", "providers"]
