"""The replay form of the request page: where to send the record again, and what to change."""

import json

from django import forms

from gateway import providers
from gateway.models import Provider


class ReplayForm(forms.Form):
    provider = forms.ChoiceField(label="Provider")
    provider_key = forms.CharField(
        label="Provider key",
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Only for a provider kind (an @slug brings its own).",
    )
    model = forms.CharField(label="Model", required=False, max_length=200)
    body = forms.CharField(
        label="Messages and parameters (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text="The request as logged: edit it to replay something else. Images stay as "
        "iris-blob: references and are sent with their stored bytes.",
    )

    def __init__(self, *args, slugs: list[Provider], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.slugs = {p.slug: p for p in slugs}
        by_slug = [(f"@{p.slug}", _slug_label(p)) for p in slugs]
        kinds = [(kind, kind) for kind in sorted(providers.PROVIDERS)]
        self.fields["provider"].choices = [("Providers", by_slug), ("Provider kinds", kinds)]

    def clean_body(self) -> dict | None:
        text = self.cleaned_data["body"].strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Write a JSON object, as the request's body.")
        return value

    def clean(self) -> dict:
        data = super().clean()
        provider = data.get("provider", "")
        if provider and not provider.startswith("@") and not data.get("provider_key"):
            self.add_error("provider_key", "A provider kind needs its API key.")
        return data

    def model_to_send(self) -> str | None:
        """The model field; blank = the @slug's default model, else the original's."""
        model = self.cleaned_data["model"].strip()
        if model:
            return model
        slug = self.slugs.get(self.cleaned_data["provider"].removeprefix("@"))
        return "" if slug is not None and slug.default_model else None


def _slug_label(p: Provider) -> str:
    default = f", default {p.default_model}" if p.default_model else ""
    return f"@{p.slug} — {p.name} ({p.kind}{default})"


def overrides(stored: dict, edited: dict | None) -> dict | None:
    """What the edited body changes in the stored one: changed keys, and removed ones as None."""
    if edited is None:
        return None
    changed = {k: v for k, v in edited.items() if stored.get(k) != v}
    changed |= {k: None for k in stored if k not in edited and k != "model"}
    return changed or None
