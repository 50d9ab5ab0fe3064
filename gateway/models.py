import hashlib
import re
import secrets
from functools import cached_property
from urllib.parse import urlsplit

import orjson
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from gateway import crypto, percentiles, providers

KEY_PREFIX = "iris-"


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


class Blob(models.Model):
    """An image's bytes, stored once in blob storage under its SHA-256."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    mime = models.CharField(max_length=100, blank=True)
    width = models.PositiveIntegerField(null=True)
    height = models.PositiveIntegerField(null=True)
    size = models.PositiveBigIntegerField()
    frames = models.PositiveIntegerField(default=1)
    exif_orientation = models.PositiveSmallIntegerField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.sha256[:12]} {self.mime} {self.width}×{self.height}"

    @property
    def storage_name(self) -> str:
        return blob_name(self.sha256)


def blob_name(sha256: str) -> str:
    return f"images/{sha256[:2]}/{sha256}"


class RequestLog(models.Model):
    """One request that reached the gateway, whatever happened to it."""

    request_id = models.CharField(max_length=32, unique=True, help_text="x-iris-request-id")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL)
    provider = models.CharField(max_length=50, blank=True)
    provider_slug = models.CharField(
        max_length=64, blank=True, help_text="@slug when routed by one"
    )
    model = models.CharField(max_length=200, blank=True)
    trace_id = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    path = models.CharField(max_length=200, blank=True)
    upstream_url = models.CharField(max_length=1000, blank=True)
    request_headers = models.JSONField(default=dict, blank=True)  # redacted
    request_body = models.JSONField(null=True, blank=True)  # images replaced by references
    response_body = models.JSONField(null=True, blank=True)  # streams: the assembled completion
    # What Iris sent upstream when it differs from request_body (a translation, a converted or
    # inlined image), images by reference: null when the client's bytes went as they were.
    upstream_body = models.JSONField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(default=0)
    error_type = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    is_stream = models.BooleanField(default=False)
    chunk_count = models.PositiveIntegerField(default=0)
    latency_ms = models.FloatField(null=True)
    ttft_ms = models.FloatField(null=True, help_text="Time to first token (streams) or byte.")
    prompt_tokens = models.PositiveIntegerField(null=True)
    completion_tokens = models.PositiveIntegerField(null=True)
    total_tokens = models.PositiveIntegerField(null=True)
    image_count = models.PositiveSmallIntegerField(default=0)  # images (masks, PDFs) sent
    output_image_count = models.PositiveSmallIntegerField(default=0)  # images made, partials apart
    # Which API the request came to: "chat.completions", "images.generations", "images.edits"…
    endpoint = models.CharField(max_length=40, blank=True, default="chat.completions")
    prompt_preview = models.CharField(max_length=300, blank=True)
    reply_preview = models.CharField(max_length=300, blank=True)
    # Every message's text and the reply's, for the logs search (previews hold only the start).
    search_text = models.TextField(blank=True)
    prompt = models.CharField(max_length=64, blank=True, help_text="the prompt's id, if any")
    prompt_version = models.PositiveIntegerField(null=True, blank=True)
    prompt_variables = models.JSONField(null=True, blank=True)  # data URIs as blob references
    # OpenAI parameters the provider could not honour, left out on the request's opt-in.
    dropped_params = models.JSONField(default=list, blank=True)
    # Why the record could not be kept whole (a body cut, images not stored), or empty.
    degraded = models.CharField(max_length=500, blank=True, default="")
    # What the request should have cost in input tokens, images by the provider's rule and
    # text by its tokenizer (gateway/estimate.py); null when any part is unknown.
    estimated_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    # From the reported usage and the model's price (gateway/pricing.py); null = unknown.
    cost_usd = models.DecimalField(max_digits=16, decimal_places=10, null=True, blank=True)
    cost_breakdown = models.JSONField(null=True, blank=True)  # per kind of token, the source
    # Routing by a config (gateway/configs/): each attempt (target, provider, model, status,
    # latency, error, or why it was skipped) in order; empty for a request with no config.
    attempts = models.JSONField(default=list, blank=True)
    config_id = models.CharField(
        max_length=64, blank=True, help_text="the saved config's id, 'inline', or empty"
    )
    retried = models.BooleanField(default=False)  # a target was tried more than once
    fell_back = models.BooleanField(default=False)  # answered by a target after the first
    cache_status = models.CharField(max_length=10, blank=True)  # HIT, MISS, REFRESH, DISABLED

    class Meta:
        indexes = [
            models.Index(fields=["provider", "-id"]),
            models.Index(fields=["model", "-id"]),
            models.Index(fields=["status_code", "-id"]),
            models.Index(fields=["trace_id"]),
            models.Index(fields=["image_count", "-id"]),
            # The admin's per-provider stats: requests in the last 24 h, the last error.
            models.Index(fields=["provider_slug", "created_at"]),
            models.Index(fields=["provider_slug", "status_code"]),
            models.Index(fields=["prompt", "-id"]),
            models.Index(fields=["endpoint", "-id"]),
            models.Index(fields=["output_image_count", "-id"]),
            models.Index(fields=["cost_usd", "-id"]),
            models.Index(fields=["config_id", "-id"]),
            models.Index(fields=["cache_status", "-id"]),
            # The list's routing filters: few rows match, so partial indexes of those alone.
            models.Index(fields=["-id"], condition=Q(retried=True), name="requestlog_retried"),
            models.Index(fields=["-id"], condition=Q(fell_back=True), name="requestlog_fell_back"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.provider}/{self.model} {self.status_code}"

    @property
    def estimate_difference(self) -> int | None:
        """Reported prompt tokens minus the estimate: how far Iris's count was off."""
        if self.prompt_tokens is None or self.estimated_prompt_tokens is None:
            return None
        return self.prompt_tokens - self.estimated_prompt_tokens


class LogImage(models.Model):
    """Where an image appeared in a logged request, and what became of it.

    Inputs sit at (message_index, part_index) of the request's messages (an Images API edit's
    images at (0, i), its mask last). Outputs at (choice, i) of a chat reply's images, or
    (0, i) of an Images API answer's `data`; a partial image streamed while output i was made
    has part_index i and its partial_index."""

    ROLES = ("input", "mask", "output", "partial")

    log = models.ForeignKey(RequestLog, on_delete=models.CASCADE, related_name="images")
    blob = models.ForeignKey(
        Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="uses"
    )
    message_index = models.PositiveIntegerField()
    part_index = models.PositiveIntegerField()
    detail = models.CharField(max_length=20, blank=True)
    origin = models.CharField(max_length=10)  # "base64" | "url" | "file" (multipart)
    url = models.TextField(blank=True)
    data_uri_prefix = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    role = models.CharField(max_length=10, default="input", choices=[(r, r) for r in ROLES])
    partial_index = models.PositiveSmallIntegerField(null=True, blank=True)
    # The image as the model saw it (gateway/vision.py): the pixels it processed, what they
    # cost, and how it cut them ({"kind": "tiles"|"patches", "cols", "rows", "cell", ...}).
    # Null where the provider documents no rule for the model.
    estimated_tokens = models.PositiveIntegerField(null=True, blank=True)
    seen_width = models.PositiveIntegerField(null=True, blank=True)
    seen_height = models.PositiveIntegerField(null=True, blank=True)
    grid = models.JSONField(null=True, blank=True)
    # The copy sent instead of the original (auto-fit downsized it, or a format the provider
    # refuses was converted), when it differs.
    sent_blob = models.ForeignKey(
        Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="sent_uses"
    )

    class Meta:
        ordering = ["message_index", "part_index", "partial_index"]
        indexes = [models.Index(fields=["blob", "log"])]

    def __str__(self) -> str:
        return f"log {self.log_id} [{self.message_index}.{self.part_index}]"


class Prompt(models.Model):
    """A saved prompt: its messages live in immutable versions, one of which is the default."""

    slug = models.CharField(
        "id",
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(r"^[a-z0-9][a-z0-9_-]*$", "Lowercase letters, digits, - and _.")
        ],
        help_text="Apps call POST /v1/prompts/<id>/completions, or <id>@<version> to pin one.",
    )
    name = models.CharField(max_length=100)
    provider = models.CharField(
        max_length=65,
        validators=[RegexValidator(r"^@[a-z0-9][a-z0-9_-]*$", "A provider @slug.")],
        help_text="The provider record the prompt runs on, as @slug.",
    )
    model = models.CharField(
        max_length=200, blank=True, help_text="Blank: the provider's default model."
    )
    # Nullable only for the moment between creating a prompt and saving its first version.
    default_version = models.ForeignKey(
        "PromptVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class PromptVersion(models.Model):
    """One saved state of a prompt; never edited (editing saves a new version)."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    # Snapshots of the prompt's route, so a pinned version always runs the same way.
    provider = models.CharField(max_length=65)
    model = models.CharField(max_length=200, blank=True)
    messages = models.JSONField(help_text="OpenAI chat messages with {{variables}}.")
    params = models.JSONField(default=dict, blank=True, help_text="temperature, max_tokens, …")
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["prompt_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "number"], name="prompt_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.prompt_id and self.prompt.slug}@{self.number}"


class ModelPrice(models.Model):
    """A price an operator sets for one provider's model (a negotiated rate, or a model the
    price library does not know), in USD per million tokens or per image. It wins over the
    library's price for the parts it sets; a part left empty keeps the library's."""

    provider = models.CharField(max_length=50, choices=[(p, p) for p in providers.PROVIDERS])
    model = models.CharField(
        max_length=200, help_text="The model as requests name it; end with * for a prefix."
    )
    input_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    cached_input_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True
    )
    output_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    image_input_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True
    )
    image_output_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True
    )
    per_image = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Image generation: USD per image made, whatever its size.",
    )
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "model"], name="one_price_per_model")
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


# The analytics rollups (gateway/rollups.py fills and reads them): what a rollup row is keyed
# by, what it sums, and its latency and time-to-first-token histograms (gateway/percentiles.py).
ROLLUP_KEY = (
    "span",
    "start",
    "provider",
    "model",
    "key_id",
    "endpoint",
    "status_class",
    "failed",
    "has_images",
    "has_outputs",
)
ROLLUP_SUMS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cost_e10",
    "cost_known",
    "images",
    "output_images",
    "image_bytes",
    "image_bytes_sent",
)
ROLLUP_LATENCY = tuple(f"lat_{k}" for k in range(percentiles.BINS))
ROLLUP_TTFT = tuple(f"ttft_{k}" for k in range(percentiles.BINS))


class Rollup(models.Model):
    """The log summed over one UTC hour or day and one combination of ROLLUP_KEY's fields."""

    span = models.PositiveIntegerField(help_text="3600 (an hour) or 86400 (a UTC day).")
    start = models.BigIntegerField(help_text="The span's start, in seconds since the epoch.")
    provider = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=200, blank=True)
    key_id = models.BigIntegerField(default=0, help_text="The gateway key's id; 0 for none.")
    endpoint = models.CharField(max_length=40, blank=True)
    status_class = models.PositiveSmallIntegerField(help_text="2 for 2xx…; 0: no response.")
    failed = models.BooleanField(help_text="Status ≥ 400, or an error after the status.")
    has_images = models.BooleanField()
    has_outputs = models.BooleanField()
    requests = models.BigIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cost_e10 = models.BigIntegerField(default=0, help_text="Known costs, in 1e-10 USD.")
    cost_known = models.BigIntegerField(default=0, help_text="Requests whose cost is known.")
    images = models.BigIntegerField(default=0)
    output_images = models.BigIntegerField(default=0)
    image_bytes = models.BigIntegerField(default=0, help_text="Bytes of the images sent.")
    image_bytes_sent = models.BigIntegerField(default=0, help_text="…as sent upstream.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=ROLLUP_KEY, name="rollup_key")]

    def __str__(self) -> str:
        return f"{self.span}@{self.start} {self.provider}/{self.model} ×{self.requests}"


for _name in ROLLUP_LATENCY + ROLLUP_TTFT:  # a histogram as columns: rows add up in SQL
    Rollup.add_to_class(_name, models.IntegerField(default=0))


from gateway.configs.models import Config  # noqa: E402, F401 - a model of this app
