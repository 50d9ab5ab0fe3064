"""Providers (where requests go, with their encrypted credentials) and gateway API keys."""

import functools
import hashlib
import re
import secrets
from functools import cached_property
from urllib.parse import urlsplit

import orjson
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from gateway import crypto, providers

KEY_PREFIX = "iris-"


@functools.lru_cache(maxsize=256)  # the same few keys, request after request (~2 µs each)
def hash_key(raw_key: str) -> str:
    # Keys are 256-bit random tokens, so a plain SHA-256 is enough (no password stretching).
    return hashlib.sha256(raw_key.encode()).hexdigest()


# What an admin calls each registry kind; a kind missing here shows under its own name.
KIND_LABELS = {
    "openai": "OpenAI, or any OpenAI-compatible server (vLLM, Ollama, LM Studio…)",
    "azure-openai": "Azure OpenAI",
    "anthropic": "Anthropic",
    "google": "Google Gemini",
    "bedrock": "AWS Bedrock",
}
# The encrypted credentials, with their labels; each is write-only in the admin.
SECRETS = {
    "api_key": "API key",
    "aws_access_key_id": "AWS access key ID",
    "aws_secret_access_key": "AWS secret access key",
    "aws_session_token": "AWS session token",
}
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")  # RFC 9110 token


def kind_choices() -> list[tuple[str, str]]:
    """Every provider in the registry (a callable: a new provider needs no migration)."""
    return [(name, KIND_LABELS.get(name, name)) for name in providers.PROVIDERS]


def validate_base_url(value: str) -> None:
    # Not URLField: it refuses the single-label hosts of Docker and Kubernetes (http://vllm:8000).
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError("Enter an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError("No query, fragment or user:password here: keys go in credentials.")


def validate_headers(value: object) -> None:
    if not isinstance(value, dict):
        raise ValidationError('Enter a JSON object, e.g. {"OpenAI-Organization": "org-…"}.')
    for name, text in value.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValidationError(f"{name!r} is not a valid header name.")
        if not isinstance(text, str) or "\r" in text or "\n" in text:
            raise ValidationError(f"The value of {name!r} must be a one-line string.")


class Provider(models.Model):
    """An upstream configured once by an operator; apps name it as `@slug`."""

    slug = models.CharField(
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(r"^[a-z0-9][a-z0-9_-]*$", "Lowercase letters, digits, - and _.")
        ],
        help_text='Apps send "x-portkey-provider: @slug", or a model written "@slug/model".',
    )
    name = models.CharField("display name", max_length=100)
    kind = models.CharField(max_length=30, choices=kind_choices)
    base_url = models.CharField(
        "base URL",
        max_length=500,
        blank=True,
        validators=[validate_base_url],
        help_text="Blank: the provider's public API. Otherwise it replaces the provider's base "
        "URL, e.g. http://10.0.0.5:8000/v1 for vLLM. Private addresses are allowed here.",
    )
    default_model = models.CharField(
        max_length=200, blank=True, help_text="Used when a request names no model."
    )
    timeout = models.FloatField(
        "request timeout (seconds)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1)],
        help_text="Upstream silence before 504. Blank: GATEWAY_UPSTREAM_TIMEOUT.",
    )
    extra_headers = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_headers],
        help_text="A JSON object of headers sent upstream with every request. Stored in "
        "plain text: put keys in the credential fields.",
    )
    azure_resource_name = models.CharField("resource name", max_length=64, blank=True)
    azure_deployment_id = models.CharField("deployment", max_length=64, blank=True)
    azure_api_version = models.CharField(
        "API version",
        max_length=32,
        blank=True,
        help_text="Blank: 2024-10-21. v1: Azure's v1 API, where the model names the deployment.",
    )
    aws_region = models.CharField(
        "AWS region",
        max_length=32,
        blank=True,
        validators=[RegexValidator(r"^[a-z]{2}(-[a-z]+)+-\d+$", "An AWS region, e.g. us-east-1.")],
    )
    # One Fernet token of a JSON object holding every secret in SECRETS.
    encrypted_credentials = models.TextField(blank=True, editable=False)
    drop_unsupported_params = models.BooleanField(
        "drop parameters it cannot honour",
        default=False,
        help_text="Off: an OpenAI parameter this provider cannot honour is a 400 naming it. On: "
        "it is left out (and the log says so), as a request's drop_params does.",
    )
    fit_images = models.BooleanField(
        "downsize images to what the model sees",
        default=False,
        help_text="On: each image is sent downsized to the pixels this provider's model would "
        "process anyway (fewer bytes, same picture for the model), as the x-iris-image-fit: "
        "auto header asks. The log keeps both the original and the image sent.",
    )
    enabled = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"@{self.slug}"

    @cached_property
    def _credentials(self) -> dict[str, str]:
        if not self.encrypted_credentials:
            return {}
        return orjson.loads(crypto.decrypt(self.encrypted_credentials))

    def credential(self, name: str) -> str:
        """A decrypted secret ("" when unset); raises crypto.DecryptionError."""
        return self._credentials.get(name, "")

    def set_credential(self, name: str, value: str) -> None:
        """Store (or, with "", remove) a secret; unreadable old secrets are dropped."""
        if name not in SECRETS:
            raise ValueError(f"Unknown credential {name!r}; known: {', '.join(SECRETS)}.")
        try:
            current = dict(self._credentials)
        except crypto.DecryptionError:
            current = {}
        current[name] = value
        kept = {k: v for k, v in current.items() if v}
        self.encrypted_credentials = crypto.encrypt(orjson.dumps(kept).decode()) if kept else ""
        self.__dict__["_credentials"] = kept

    def masked(self, name: str) -> str:
        """The secret as the admin may show it: `sk-…a1b2`, "" when unset."""
        try:
            return crypto.mask(self.credential(name))
        except crypto.DecryptionError:
            return "(unreadable: IRIS_ENCRYPTION_KEY changed?)"

    def refresh_from_db(self, *args, **kwargs) -> None:
        self.__dict__.pop("_credentials", None)
        super().refresh_from_db(*args, **kwargs)


def keys_limited_to(doomed: list[Provider]) -> list["ApiKey"]:
    """Keys allowed only providers from this list: with them gone, any would be allowed."""
    ids = {provider.pk for provider in doomed}
    keys = ApiKey.objects.filter(providers__in=ids).distinct().prefetch_related("providers")
    return [key for key in keys if {p.pk for p in key.providers.all()} <= ids]


@receiver(pre_delete, sender=Provider)
def _protect_key_limits(instance: Provider, **kwargs) -> None:
    if keys := keys_limited_to([instance]):
        names = ", ".join(str(key) for key in keys)
        raise models.ProtectedError(
            f"{instance} is the only provider that {names} may use: edit the key first.",
            set(keys),
        )


class ApiKey(models.Model):
    """A gateway API key. Only its hash is stored; the key itself is shown once."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise the key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Blank: never. After it, requests get 401."
    )
    providers = models.ManyToManyField(
        Provider,
        blank=True,
        related_name="api_keys",
        verbose_name="allowed providers",
        help_text="Blank: any provider. Chosen: only these @slugs, and no header-routed "
        "requests (x-portkey-provider: openai with the app's own key).",
    )
    default_config = models.ForeignKey(
        "gateway.Config",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="default_for_keys",
        help_text="Routes the key's requests that send no x-portkey-config header.",
    )
    can_read_logs = models.BooleanField(
        "may read the logs API",
        default=False,  # off for new keys; keys made before kept theirs (migration 0015)
        help_text="GET /v1/logs returns every request and image. Tick only for tool keys.",
    )

    class Meta:
        verbose_name = "gateway API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def generate(cls, name: str, **fields) -> tuple["ApiKey", str]:
        """Create a key; return the record and the raw key (the only time it exists)."""
        key = cls(name=name, **fields)
        raw = key.assign_new_key()
        key.save()
        return key, raw

    def assign_new_key(self) -> str:
        """Give this record a fresh key; return it raw, the only time it exists."""
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        self.prefix, self.key_hash = raw[:12], hash_key(raw)
        return raw

    @cached_property
    def allowed_slugs(self) -> frozenset[str]:
        """The provider slugs this key may use; empty means any."""
        return frozenset(p.slug for p in self.providers.all())

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
