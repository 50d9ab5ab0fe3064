"""Feedback on logged requests: Portkey's feedback API (POST/PUT /v1/feedback) and the
request page's thumbs, labels and comment.

A feedback names a trace, not a row: its `trace_id` matches every RequestLog whose
`trace_id` is that value, or whose `request_id` is (Iris answers `x-portkey-trace-id` with the
client's trace id, else with its own request id, so the id a client reads back always works).
Several requests of one trace (a conversation) share its feedback, as on Portkey.

Values follow Portkey: an integer in −10..10 (the UI's thumbs up is 1, down −1, as Portkey's
docs suggest), a weight in 0..1 (default 1). A record's score is Σ value × weight over its
feedback; "positive" and "negative" in the filters mean a score above or below 0.
"""

import uuid

from django.db import models, transaction
from django.utils import timezone

VALUE_MIN, VALUE_MAX = -10, 10
SOURCES = (("api", "API"), ("ui", "Logs UI"))


class Feedback(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # A RequestLog's trace_id or request_id (see the module's docstring).
    trace_id = models.CharField(max_length=200)  # indexed with value (Meta)
    value = models.SmallIntegerField()  # −10..10
    weight = models.FloatField(default=1.0)  # 0..1
    metadata = models.JSONField(default=dict, blank=True)  # the client's, as sent
    # Free-text tags ("wrong-box", "ocr-miss"), kept in order, no duplicates; mirrored into
    # FeedbackLabel rows on save() so the list can filter by a label with an index.
    labels = models.JSONField(default=list, blank=True)
    comment = models.TextField(blank=True)
    source = models.CharField(max_length=3, choices=SOURCES, default="api")
    api_key = models.ForeignKey(
        "gateway.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who gave it: the logs UI user's username, or an API caller's metadata["_user"].
    user_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["trace_id", "value"])]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.trace_id}: {self.value:+d} × {self.weight:g}"

    def save(self, *args, **kwargs) -> None:
        """Save and keep the FeedbackLabel rows equal to `labels` (bulk_create skips this)."""
        self.updated_at = timezone.now()
        with transaction.atomic():
            super().save(*args, **kwargs)
            wanted = set(self.labels or ())
            have = set(self.label_rows.values_list("name", flat=True))
            if have - wanted:
                self.label_rows.filter(name__in=have - wanted).delete()
            FeedbackLabel.objects.bulk_create(
                FeedbackLabel(feedback=self, trace_id=self.trace_id, name=name)
                for name in sorted(wanted - have)
            )
            if have & wanted:  # a trace_id never changes through the API; kept in step anyway
                self.label_rows.exclude(trace_id=self.trace_id).update(trace_id=self.trace_id)


class FeedbackLabel(models.Model):
    """One label of one feedback, for the list's label filter (name → trace ids, by index)
    and the widget's suggestions (the distinct names)."""

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="label_rows")
    trace_id = models.CharField(max_length=200)
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feedback", "name"], name="feedback_label_once")
        ]
        indexes = [models.Index(fields=["name", "trace_id"])]

    def __str__(self) -> str:
        return self.name
