"""Models of the replays app."""

from django.db import models
from django.utils import timezone

from gateway.models import RequestLog


class Replay(models.Model):
    """A replay of a logged request: the link from the original record to the new one.

    The new record is named by its request id, not a foreign key: the log writer saves it a
    moment after the replay answers (and a record whose row failed stays findable by id)."""

    original = models.ForeignKey(RequestLog, on_delete=models.CASCADE, related_name="replays")
    request_id = models.CharField(max_length=32, unique=True, help_text="the replay's record")
    created_at = models.DateTimeField(default=timezone.now)
    user = models.CharField(max_length=150, blank=True, help_text="who asked: a login or a key")
    target = models.CharField(max_length=300, help_text="@slug or provider kind, and the model")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["original", "-id"])]

    def __str__(self) -> str:
        return f"replay of #{self.original_id} on {self.target}"
