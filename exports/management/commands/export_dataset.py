"""manage.py export_dataset --filter "model=gpt-4o&status=2xx" --output out.zip"""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from exports.export import ExportTooLarge, plan, stream
from logs_ui.forms import LogFilterForm


class Command(BaseCommand):
    help = (
        "Export the records of a logs filter (the list's query string) as a dataset zip: "
        "data.jsonl and images/ (see README, Datasets)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--filter",
            default="",
            help='The logs list\'s query string, e.g. "model=gpt-4o&status=2xx&range=7d".',
        )
        parser.add_argument("--output", required=True, help="The zip to write; - for stdout.")

    def handle(self, *args, **options) -> None:
        form = LogFilterForm(QueryDict(options["filter"].lstrip("?")))
        if not form.is_valid():
            errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
            raise CommandError(f"Bad filter: {errors}")
        try:
            export = plan(form.to_filter())
        except ExportTooLarge as exc:
            raise CommandError(str(exc)) from None
        to_stdout = options["output"] == "-"
        out = sys.stdout.buffer if to_stdout else open(options["output"], "wb")  # noqa: SIM115
        written = 0
        try:
            for chunk in stream(export):
                out.write(chunk)
                written += len(chunk)
        finally:
            if not to_stdout:
                out.close()
        where = "stdout" if to_stdout else options["output"]
        self.stderr.write(
            f"Exported {export.records} records ({export.image_bytes} bytes of images) "
            f"to {where}: {written} bytes."
        )
