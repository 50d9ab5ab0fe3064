import hashlib
import secrets

from django.db import models
from django.utils import timezone

KEY_PREFIX = "iris-"


def hash_key(raw_key: str) -> str:
    # Keys are 256-bit random tokens, so a plain SHA-256 is enough (no password stretching).
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    """A gateway API key. Only its hash is stored; the key itself is shown once."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise the key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "gateway API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def generate(cls, name: str, **fields) -> tuple["ApiKey", str]:
        """Create a key; return the record and the raw key (the only time it exists)."""
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(name=name, prefix=raw[:12], key_hash=hash_key(raw), **fields)
        return key, raw

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
    model = models.CharField(max_length=200, blank=True)
    trace_id = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    path = models.CharField(max_length=200, blank=True)
    upstream_url = models.CharField(max_length=1000, blank=True)
    request_headers = models.JSONField(default=dict, blank=True)  # redacted
    request_body = models.JSONField(null=True, blank=True)  # images replaced by references
    response_body = models.JSONField(null=True, blank=True)  # streams: the assembled completion
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
    image_count = models.PositiveSmallIntegerField(default=0)
    prompt_preview = models.CharField(max_length=300, blank=True)
    reply_preview = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["provider", "-id"]),
            models.Index(fields=["model", "-id"]),
            models.Index(fields=["status_code", "-id"]),
            models.Index(fields=["trace_id"]),
            models.Index(fields=["image_count", "-id"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.provider}/{self.model} {self.status_code}"


class LogImage(models.Model):
    """Where an image appeared in a logged request, and what became of it."""

    log = models.ForeignKey(RequestLog, on_delete=models.CASCADE, related_name="images")
    blob = models.ForeignKey(
        Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="uses"
    )
    message_index = models.PositiveIntegerField()
    part_index = models.PositiveIntegerField()
    detail = models.CharField(max_length=20, blank=True)
    origin = models.CharField(max_length=10)  # "base64" | "url"
    url = models.TextField(blank=True)
    data_uri_prefix = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["message_index", "part_index"]
        indexes = [models.Index(fields=["blob", "log"])]

    def __str__(self) -> str:
        return f"log {self.log_id} [{self.message_index}.{self.part_index}]"
