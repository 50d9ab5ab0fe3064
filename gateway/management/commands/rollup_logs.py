from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gateway import rollups


class Command(BaseCommand):
    help = (
        "Recompute the analytics rollups from the log: all of them, or the whole UTC days from "
        "--since to --until. For rows loaded around the log writer, or after changing how they "
        "are counted. Rows written meanwhile into those days would count twice: rebuild past "
        "days, or while the log is quiet."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="ISO date or time (UTC unless it says)")
        parser.add_argument("--until", help="ISO date or time (UTC unless it says)")

    def handle(self, *args, since: str | None, until: str | None, **options) -> None:
        counted = rollups.rebuild(_moment(since), _moment(until))
        self.stdout.write(f"Counted {counted:,} log records into the rollups.")


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"“{text}” is not an ISO date or time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
