"""The admin: providers and their credentials, gateway API keys, routing configs, prompts,
the request log."""

from gateway.admin import configs, keys, logs, prices, prompts, providers

__all__ = ["configs", "keys", "logs", "prices", "prompts", "providers"]
