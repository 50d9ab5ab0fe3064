from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        from django.conf import settings

        from gateway import images, replicas, tokens  # noqa: F401 - replicas: saves from any process are announced

        # Pillow's MAX_IMAGE_PIXELS, set on purpose: see images.limit_pixels.
        images.limit_pixels(settings.GATEWAY_MAX_IMAGE_PIXELS)
        images.decodes.set(settings.GATEWAY_MAX_CONCURRENT_DECODES)
        tokens.use_tiktoken(settings.GATEWAY_TOKENIZER == "tiktoken")
