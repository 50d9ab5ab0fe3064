from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandParser

from gateway import pricing, rollups
from gateway.management.commands.rollup_logs import _moment
from gateway.models import RequestLog

_FIELDS = ("id", "created_at", "provider", "model", "endpoint", "response_body", "request_body")


class Command(BaseCommand):
    help = (
        "Price logged requests again from the usage their answers kept: those whose cost is "
        "unknown (the prices could not be read when they were logged, or a price was set in "
        "the admin since), or with --all every one. Only whole UTC days before today (or "
        "before --until), so that the analytics rollups of the days touched can be rebuilt "
        "while Iris keeps logging today."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="ISO date or time (UTC unless it says)")
        parser.add_argument("--until", help="ISO date; at most today, the default")
        parser.add_argument("--all", action="store_true", help="also records with a known cost")

    def handle(self, *args, since: str | None, until: str | None, all: bool, **options) -> None:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        end = min(_day(_moment(until)) or today, today)
        start = _day(_moment(since))
        rows = RequestLog.objects.filter(created_at__lt=end, response_body__isnull=False)
        if start:
            rows = rows.filter(created_at__gte=start)
        if not all:
            rows = rows.filter(cost_usd__isnull=True)
        changed, first, last, priced = [], None, None, 0
        for row in rows.only(*_FIELDS).iterator(chunk_size=500):
            cost = price(row)
            total, breakdown = (cost.total, cost.as_json()) if cost else (None, None)
            row.cost_usd, row.cost_breakdown = total, breakdown
            changed.append(row)
            priced += 1
            first = min(first or row.created_at, row.created_at)
            last = max(last or row.created_at, row.created_at)
            if len(changed) >= 500:
                RequestLog.objects.bulk_update(changed, ["cost_usd", "cost_breakdown"])
                changed = []
        RequestLog.objects.bulk_update(changed, ["cost_usd", "cost_breakdown"])
        if first is not None:
            rollups.rebuild(first, last + timedelta(seconds=1))
        rebuilt = "; their days' analytics rollups rebuilt" if priced else ""
        self.stdout.write(f"Priced {priced:,} log records again{rebuilt}.")


def price(row: RequestLog) -> pricing.Cost | None:
    """The row's cost from the usage its stored answer kept, as the log writer prices it."""
    body = row.response_body if isinstance(row.response_body, dict) else {}
    images_api = row.endpoint.startswith("images.")
    return pricing.record_cost(
        row.provider,
        row.model,
        row.endpoint,
        body.get("usage") if isinstance(body.get("usage"), dict) else None,
        body,
        request_body=row.request_body if images_api else None,
    )


def _day(moment: datetime | None) -> datetime | None:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0) if moment else None
