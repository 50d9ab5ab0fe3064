"""Prices an operator sets per model (over the price library's)."""

from django.db import models

from gateway import providers


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
