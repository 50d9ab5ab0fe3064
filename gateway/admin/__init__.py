"""The admin: providers and their credentials, gateway API keys, prompts, the request log."""

from gateway.admin import keys, logs, prices, prompts, providers

__all__ = ["keys", "logs", "prices", "prompts", "providers"]
