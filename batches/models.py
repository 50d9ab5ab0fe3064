"""Bulk replays: a Batch of records replayed on one or more targets, one BatchItem per
(record, target). The items are created up front, so a batch's total is known at once and
a batch cut short (a restart) keeps what it did and what it still has to do."""

from django.db import models

from gateway.models import RequestLog


class Batch(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        CANCELLED = "cancelled"
        INTERRUPTED = "interrupted"  # its process went away mid-run: resumable

    # The filter the records came from, as a query string: the list's (source "ui") or
    # the logs API's parameters (source "api"). Kept for display: the records are chosen once.
    query = models.TextField(blank=True)
    source = models.CharField(max_length=8, default="api")
    targets = models.JSONField(default=list)  # [{"provider": "@slug" | kind, "model": str|None}]
    limit = models.PositiveIntegerField()
    concurrency = models.PositiveSmallIntegerField()
    # "exact", "json" or "regex" (with `pattern`): see batches/agreement.py.
    agreement = models.CharField(max_length=8, default="exact")
    pattern = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)  # finished, failed ones included
    failed = models.PositiveIntegerField(default=0)
    created_by = models.CharField(max_length=150, blank=True)  # a user, or "key:<name>"
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped while a runner works on it: a running batch whose heartbeat is old lost its
    # process (batches/runner.py STALE_SECONDS) and shows as interrupted.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Batch {self.pk} ({self.done}/{self.total})"


class BatchItem(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    # SET_NULL: retention may delete the original; the answers stay readable.
    original = models.ForeignKey(RequestLog, null=True, on_delete=models.SET_NULL, related_name="+")
    target = models.PositiveSmallIntegerField()  # index into batch.targets
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    request_id = models.CharField(max_length=64, blank=True)  # the replay's x-iris-request-id
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    answer = models.TextField(blank=True)
    agreed = models.BooleanField(null=True)  # None: not comparable (see batches/agreement.py)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["batch", "status"])]

    def __str__(self) -> str:
        return f"Item {self.pk} of batch {self.batch_id}"
