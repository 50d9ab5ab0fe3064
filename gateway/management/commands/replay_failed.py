from django.core.management.base import BaseCommand

from gateway.log import entry as entries
from gateway.log import setaside


class Command(BaseCommand):
    help = (
        "Write the log records that were set aside (refused by the database even degraded), "
        "as they were or degraded; those refused again stay set aside."
    )

    def handle(self, *args, **options) -> None:
        written = failed = 0
        for path, entry in setaside.entries():
            for attempt in (entry, entry.refused("set aside, replayed by replay_failed")):
                try:
                    entries.save([attempt])
                except Exception as exc:
                    error = exc
                    continue
                path.unlink()
                written += 1
                break
            else:
                failed += 1
                self.stderr.write(f"{path.name}: still refused ({type(error).__name__}: {error})")
        unreadable = setaside.count() - failed
        self.stdout.write(
            f"{written} set-aside records written, {failed} still refused"
            + (f", {unreadable} kept only as summaries (.json)" if unreadable else "")
        )
