"""Saved prompts and their versions."""

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone


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
