import time

from django.core.management.base import BaseCommand

from gateway.log.retention import purge


class Command(BaseCommand):
    help = (
        "Delete logs older than LOG_RETENTION_DAYS (or --days) and images no log uses, "
        "LOG_RETENTION_BATCH (or --batch) records per transaction."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None)
        parser.add_argument("--batch", type=int, default=None, help="records per transaction")

    def handle(self, *args, days: int | None, batch: int | None, **options) -> None:
        started = time.perf_counter()
        longest = [0.0]

        def measured(rows: int, seconds: float) -> None:
            longest[0] = max(longest[0], seconds)

        records, images = purge(days=days, batch=batch, on_batch=measured)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Deleted {records} log records and {images} images in {seconds:.1f} s "
            f"(longest transaction {longest[0] * 1000:.0f} ms)."
        )
