from django.core.management.base import BaseCommand

from gateway.log.retention import purge


class Command(BaseCommand):
    help = "Delete logs older than LOG_RETENTION_DAYS (or --days) and images no log uses."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None)

    def handle(self, *args, days: int | None, **options) -> None:
        records, images = purge(days=days)
        self.stdout.write(f"Deleted {records} log records and {images} images.")
