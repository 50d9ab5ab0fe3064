"""Keyset pages of the request log in a filter's order, and their cursors (newest first, by
time within a window, by cost)."""

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import Q, QuerySet

from gateway.logquery import LogFilter, filter_logs
from gateway.models import RequestLog
from gateway.pricing import decimal_str

_CURSOR = re.compile(r"^(\d+)(?:@(\d{1,6}(?:\.\d{1,10})?))?$")
_TIME_CURSOR = re.compile(r"^(\d+)@(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)$")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # a time cursor's created_at, in UTC


def page(qs: QuerySet, limit: int) -> tuple[list[RequestLog], int | None]:
    """One page of rows and the cursor of the next page (None at the end)."""
    rows = list(qs[: limit + 1])
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def page_of(
    f: LogFilter, limit: int, shape: Callable[[QuerySet], QuerySet] = lambda qs: qs
) -> tuple[list[RequestLog], int | str | None]:
    """One page in the filter's order and the cursor of the next (None at the end); `shape`
    picks the columns. Newest first: the cursor is the last id; in a time window, by
    (created_at, id), the cursor "id@created_at" (see _in_window). By cost: the known costs
    first, each page a range of the (cost_usd, -id) index walked one way or the other (ties:
    newest first when cheapest first, oldest first when dearest first), the cursor "id@cost";
    then the unknown costs, newest first, the cursor an id."""
    if f.sort not in ("cost", "-cost"):
        if f.since or f.until:
            return _in_window(f, limit, shape)
        return page(shape(filter_logs(f)), limit)
    rows: list[RequestLog] = []
    in_unknown_tail = f.before is not None and f.before_cost is None
    if f.cost_unknown is not True and not in_unknown_tail:
        rows = list(shape(_by_cost(f))[: limit + 1])
    if f.cost_unknown is not False and len(rows) <= limit:
        tail = replace(f, sort="", cost_unknown=True, before_cost=None)
        tail.before = f.before if in_unknown_tail else None
        rows += list(shape(filter_logs(tail))[: limit + 1 - len(rows)])
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]  # a known cost: the cursor goes on along the costs
    return rows[
        :limit
    ], last.id if last.cost_usd is None else f"{last.id}@{decimal_str(last.cost_usd)}"


def _in_window(
    f: LogFilter, limit: int, shape: Callable[[QuerySet], QuerySet]
) -> tuple[list[RequestLog], str | None]:
    """A page of a time window, newest first by (created_at, id): the created_at index walked
    backwards from `until`. By id, a window in the past was found after walking every newer
    record (20 days ago at 10M on PostgreSQL: seconds). The cursor is "id@created_at" (an id
    alone, from an older link or client, is read as its row's created_at)."""
    qs = filter_logs(replace(f, before=None), by_time=True)
    if f.before is not None:
        at = f.before_at or _created_at(f.before)
        if at is None:  # the cursor's row is gone (retention): the ids below it
            qs = qs.filter(id__lt=f.before)
        else:  # written so that the index can seek to created_at <= at
            qs = qs.filter(Q(created_at__lte=at), Q(created_at__lt=at) | Q(id__lt=f.before))
    rows = list(shape(qs.order_by("-created_at", "-id"))[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], f"{last.id}@{last.created_at.astimezone(UTC).strftime(_TIME_FORMAT)}"


def _created_at(log_id: int) -> datetime | None:
    return RequestLog.objects.filter(id=log_id).values_list("created_at", flat=True).first()


def _by_cost(f: LogFilter) -> QuerySet:
    qs = filter_logs(replace(f, before=None, before_cost=None, cost_unknown=False), ordered=True)
    cost, last = f.before_cost, f.before
    if f.sort == "-cost":
        if cost is not None:  # written so that the index can seek to cost_usd <= cost
            qs = qs.filter(Q(cost_usd__lte=cost), Q(cost_usd__lt=cost) | Q(id__gt=last))
        return qs.order_by("-cost_usd", "id")
    if cost is not None:
        qs = qs.filter(Q(cost_usd__gte=cost), Q(cost_usd__gt=cost) | Q(id__lt=last))
    return qs.order_by("cost_usd", "-id")


def parse_cursor(token: str) -> tuple[int, Decimal | None, datetime | None]:
    """A page_of cursor ("123", "123@0.0042" by cost, "123@2026-11-20T10:00:00.000000Z" in a
    time window) as (before, before_cost, before_at); ValueError if bad."""
    token = token.strip()
    if timed := _TIME_CURSOR.match(token):
        try:
            at = datetime.strptime(timed[2], _TIME_FORMAT).replace(tzinfo=UTC)
        except ValueError:  # the shape of a time, not one (month 13)
            raise ValueError(f"“{token[:40]}” is not a cursor.") from None
        return int(timed[1]), None, at
    found = _CURSOR.match(token)
    if not found:
        raise ValueError(f"“{token[:40]}” is not a cursor.")
    return int(found[1]), Decimal(found[2]) if found[2] else None, None
