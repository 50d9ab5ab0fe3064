"""Model prices in the admin: negotiated rates, and models the price library does not know.
Each row wins over the library (genai-prices) for the parts it sets; the list shows which
library price a row overrides."""

from decimal import Decimal

from django import forms
from django.contrib import admin

from gateway import pricing
from gateway.models import ModelPrice

PER_MTOK = "USD per million tokens; empty keeps the price library's."
HELP = {
    "provider": "The provider as routed (x-portkey-provider or the admin's provider kind).",
    "model": (
        "The model as requests name it (an Azure deployment, a Bedrock model id with its "
        "region prefix…). End with * for every model that starts so: “gpt-4o*”. An exact "
        "row wins over a prefix row, and the longest prefix over a shorter one."
    ),
    "input_per_mtok": f"Input tokens not cached. {PER_MTOK}",
    "cached_input_per_mtok": f"Cache reads. {PER_MTOK} Without either, the input price.",
    "output_per_mtok": f"Output tokens, reasoning tokens included. {PER_MTOK}",
    "image_input_per_mtok": (
        f"Image tokens the usage reports among the input (GPT image models). {PER_MTOK} "
        "Without either, the input price; the request page prices each image with it."
    ),
    "image_output_per_mtok": f"Image tokens made (GPT image, Gemini image models). {PER_MTOK}",
    "per_image": (
        "USD per image made, whatever its size (DALL·E, Imagen, Bedrock image models), added "
        "to any token price. Empty keeps Iris's per-image table."
    ),
    "note": "Why this price: a contract, a quote, a page read on a date.",
}
PRICE_FIELDS = (
    "input_per_mtok",
    "cached_input_per_mtok",
    "output_per_mtok",
    "image_input_per_mtok",
    "image_output_per_mtok",
    "per_image",
)


class ModelPriceForm(forms.ModelForm):
    class Meta:
        model = ModelPrice
        fields = ("provider", "model", *PRICE_FIELDS, "note")
        help_texts = HELP

    def clean_model(self) -> str:
        model = self.cleaned_data["model"].strip()
        if "*" in model[:-1] or model == "*":
            raise forms.ValidationError("A * may only end a model name, after its prefix.")
        return model

    def clean(self) -> dict:
        data = super().clean()
        prices = [data.get(name) for name in PRICE_FIELDS]
        if all(price is None for price in prices):
            raise forms.ValidationError("Set at least one price.")
        for name, price in zip(PRICE_FIELDS, prices, strict=True):
            if price is not None and price < Decimal(0):
                self.add_error(name, "A price cannot be negative.")
        return data


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    form = ModelPriceForm
    list_display = ("provider", "model", *PRICE_FIELDS, "overrides", "note", "updated_at")
    list_filter = ("provider",)
    search_fields = ("model", "note")
    ordering = ("provider", "model")
    readonly_fields = ("overrides", "updated_at")
    fieldsets = (
        (None, {"fields": ("provider", "model", "overrides")}),
        ("Tokens (USD per million)", {"fields": PRICE_FIELDS[:5]}),
        ("Images", {"fields": ("per_image",)}),
        (None, {"fields": ("note", "updated_at")}),
    )

    @admin.display(description="overrides")
    def overrides(self, row: ModelPrice) -> str:
        """The library's price this row overrides (for a prefix, the prefix's own model)."""
        if not row.pk:
            return "—"
        found = pricing.library_price(row.provider, pricing.model_name(row.model.rstrip("*")))
        return found.summary() if found else "nothing: the price library has no such model"
