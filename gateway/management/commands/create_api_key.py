from django.core.management.base import BaseCommand

from gateway.models import ApiKey


class Command(BaseCommand):
    help = "Create a gateway API key and print it once (only its hash is stored)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="Who or what the key is for, e.g. 'checkout-app'.")
        parser.add_argument(
            "--read-logs",
            action="store_true",
            help="Let the key read GET /v1/logs (every request and image); off by default.",
        )

    def handle(self, *args, name: str, read_logs: bool = False, **options) -> None:
        key, raw = ApiKey.generate(name, can_read_logs=read_logs)
        self.stderr.write(
            f"Created gateway API key {key.name!r} ({key.prefix}…). "
            "Store it now: it cannot be shown again."
        )
        self.stdout.write(raw)
