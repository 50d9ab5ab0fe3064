from django.core.management.base import BaseCommand

from gateway.models import ApiKey


class Command(BaseCommand):
    help = "Create a gateway API key and print it once (only its hash is stored)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="Who or what the key is for, e.g. 'checkout-app'.")

    def handle(self, *args, name: str, **options) -> None:
        key, raw = ApiKey.generate(name)
        self.stderr.write(
            f"Created gateway API key {key.name!r} ({key.prefix}…). "
            "Store it now: it cannot be shown again."
        )
        self.stdout.write(raw)
