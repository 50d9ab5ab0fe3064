"""The request log: records, their images (blobs stored once by sha256), the rollups."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from gateway import percentiles
from gateway.models.routing import ApiKey


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
    # A URL image Iris fetched: how long that took, in ms (its wait for a fetch slot too).
    fetch_ms = models.FloatField(null=True, blank=True)
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
