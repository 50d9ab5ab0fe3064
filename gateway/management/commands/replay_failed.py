from django.core.management.base import BaseCommand
from django.db import close_old_connections

from gateway.log import entry as entries
from gateway.log import replay, setaside, tally
from gateway.log.faults import Fault, classify


class Command(BaseCommand):
    help = (
        "Write the log records that were set aside (refused by the database even degraded), "
        "as they were or degraded; those refused again stay set aside."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--forget-lost",
            action="store_true",
            help="also clear the count of records lost to killed processes (the banner's)",
        )

    def handle(self, *args, **options) -> None:
        if options["forget_lost"]:
            self.stdout.write(f"{tally.forget_lost()} lost records' count cleared")
        written = refused = 0
        for path, entry in setaside.entries() + _legacy():
            for attempt in (entry, entry.refused("set aside, then written by replay_failed")):
                try:
                    close_old_connections()
                    entries.save([attempt])
                except Exception as exc:
                    error = exc
                    if classify(exc) is not Fault.BAD_RECORD:
                        raise SystemExit(f"The log cannot be written now: {exc}") from None
                    continue
                path.unlink(missing_ok=True)
                written += 1
                break
            else:
                refused += 1
                self.stderr.write(f"{path.name}: still refused ({type(error).__name__}: {error})")
        others = setaside.count() - refused
        self.stdout.write(
            f"{written} set-aside records written, {refused} still refused"
            + (f", {others} kept only as summaries or unreadable bytes" if others else "")
        )


def _legacy() -> list:
    """The `*.failed` files of Iris before the journal: lists of Records."""
    found = []
    for path in sorted(setaside.folder().parent.glob("*.failed")):
        for record in replay.read_legacy(path):
            entry = entries.prepare(record)
            entry.replayed = True
            found.append((path, entry))
    return found
