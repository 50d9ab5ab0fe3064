"""Saved configs: a routing config an admin keeps under an id that apps send (the SDK's
`config="..."`) or that a gateway key uses by default. Imported by gateway/models.py."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from gateway.configs import schema


class Config(models.Model):
    slug = models.CharField(
        "id",
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_-]*$", "Letters, digits, - and _.")],
        help_text='What apps send: x-portkey-config: <id>, or config="<id>" in the portkey-ai SDK.',
    )
    name = models.CharField(max_length=100, blank=True)
    body = models.JSONField(
        "config",
        help_text="Portkey's schema: strategy, targets, retry, cache, request_timeout, "
        "override_params…",
    )
    enabled = models.BooleanField(default=True, help_text="A disabled config answers 400.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "gateway"
        verbose_name = "config"
        ordering = ("slug",)

    def __str__(self) -> str:
        return f"{self.slug} ({self.name})" if self.name else self.slug

    def clean(self) -> None:
        try:
            schema.parse(self.body)
        except schema.ConfigError as exc:
            raise ValidationError({"body": str(exc)}) from None
