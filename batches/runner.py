"""Bulk replays: choosing the records, and running the replays with bounded concurrency.

A batch runs as an asyncio task on one event loop of the server process, kept in a daemon
thread (batches/loop.py): the pages that start one are sync views, the API's are async, and
Django's test server has no lasting loop at all; one loop serves them all. Each replay is
replays.core.replay (the normal proxy path, logged as its own record).

Progress lives in the database: every item is a row made up front, pending until its
replay ends. While a runner works on a batch it bumps heartbeat_at every HEARTBEAT
seconds; a running batch whose heartbeat is older than STALE_SECONDS lost its process
(a restart, a crash) and shows as interrupted. Resuming puts its items that were in flight
back to pending and runs what is pending; what finished stays. Provider keys sent with the
API's request are held in memory for the run, never stored: a resumed batch uses the
resuming caller's headers (the UI's: none, so only @slug targets work there).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from batches import loop
from batches.agreement import Rule, agrees, answer_text
from batches.models import Batch, BatchItem
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.logquery import LogFilter
from gateway.logquery_pages import page_of
from gateway.models import Provider, RequestLog

log = logging.getLogger(__name__)

HEARTBEAT = 2.0  # seconds
STALE_SECONDS = 60.0
MAX_TARGETS = 5
DEFAULT_LIMIT = 50
DEFAULT_CONCURRENCY = 4
_ERROR_CHARS = 1000

Replay = Callable[..., Awaitable[Any]]


class BatchError(ValueError):
    """A batch that cannot be made as asked; the message says why, for the user."""


def max_records() -> int:
    return settings.GATEWAY_MAX_BATCH_RECORDS


def max_concurrency() -> int:
    return settings.GATEWAY_MAX_BATCH_CONCURRENCY


def parse_targets(value: object) -> list[dict]:
    """[{"provider": "@slug" | kind, "model": str | None}], 1 to MAX_TARGETS of them."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_TARGETS:
        raise BatchError(f"targets is a list of 1 to {MAX_TARGETS} targets.")
    targets = []
    for n, target in enumerate(value):
        provider = target.get("provider") if isinstance(target, dict) else None
        model = target.get("model") if isinstance(target, dict) else None
        if not isinstance(provider, str) or not provider.strip() or len(provider) > 65:
            raise BatchError(f'targets[{n}].provider is "@slug" or a provider name.')
        if model is not None and (not isinstance(model, str) or len(model) > 200):
            raise BatchError(f"targets[{n}].model is a model name, or null for the original's.")
        targets.append({"provider": provider.strip(), "model": (model or "").strip() or None})
    slugs = {t["provider"][1:] for t in targets if t["provider"].startswith("@")}
    known = set(Provider.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    if missing := sorted(slugs - known):
        raise BatchError(f"No provider @{missing[0]}.")
    return targets


def bounded(name: str, value: object, default: int, top: int, setting: str = "") -> int:
    if value is None:
        return min(default, top)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BatchError(f"{name} is a whole number from 1 to {top}.")
    if value > top:
        where = f" ({setting})" if setting else ""
        raise BatchError(f"{name} {value} is over the most a batch may have{where}: {top}.")
    return value


@transaction.atomic
def create(
    log_filter: LogFilter,
    *,
    query: str,
    source: str,
    targets: list[dict],
    limit: int,
    concurrency: int,
    rule: Rule,
    created_by: str,
) -> Batch:
    """A batch of the filter's first `limit` records (in the list's order) × the targets."""
    rows, _ = page_of(log_filter, limit, lambda qs: qs.only("id"))
    if not rows:
        raise BatchError("No records match this filter.")
    batch = Batch.objects.create(
        query=query,
        source=source,
        targets=targets,
        limit=limit,
        concurrency=concurrency,
        agreement=rule.kind,
        pattern=rule.pattern,
        total=len(rows) * len(targets),
        created_by=created_by[:150],
        heartbeat_at=timezone.now(),
    )
    BatchItem.objects.bulk_create(
        BatchItem(batch=batch, original_id=row.id, target=t)
        for row in rows
        for t in range(len(targets))
    )
    return batch


def start(batch_id: int, **options) -> None:
    """Run the batch in the background (options: see run)."""
    loop.submit(run(batch_id, **options))


def claim(batch_id: int) -> bool:
    """Take over an interrupted batch (or a running one whose runner went quiet): True if
    this call got it; its items that were in flight are pending again."""
    with transaction.atomic():
        claimed = Batch.objects.filter(
            Q(status=Batch.Status.INTERRUPTED)
            | Q(status=Batch.Status.RUNNING, heartbeat_at__lt=_stale_before()),
            pk=batch_id,
        ).update(status=Batch.Status.RUNNING, heartbeat_at=timezone.now(), finished_at=None)
        if claimed:
            BatchItem.objects.filter(batch_id=batch_id, status=BatchItem.Status.RUNNING).update(
                status=BatchItem.Status.PENDING
            )
    return bool(claimed)


def cancel(batch_id: int) -> bool:
    """Stop a running batch: items not started stay pending; those in flight finish."""
    return bool(
        Batch.objects.filter(pk=batch_id)
        .exclude(status__in=(Batch.Status.DONE, Batch.Status.CANCELLED))
        .update(status=Batch.Status.CANCELLED, finished_at=timezone.now())
    )


def note_stale(batch: Batch) -> Batch:
    """Mark a running batch whose runner went quiet as interrupted (it shows, and resumes)."""
    if batch.status == Batch.Status.RUNNING and (
        batch.heartbeat_at is None or batch.heartbeat_at < _stale_before()
    ):
        Batch.objects.filter(pk=batch.pk, status=Batch.Status.RUNNING).filter(
            Q(heartbeat_at__lt=_stale_before()) | Q(heartbeat_at__isnull=True)
        ).update(status=Batch.Status.INTERRUPTED)
        batch.status = Batch.Status.INTERRUPTED
    return batch


def _stale_before():
    return timezone.now() - timedelta(seconds=STALE_SECONDS)


async def run(
    batch_id: int,
    *,
    headers: Mapping[str, str] | None = None,
    user: str = "",
    authenticate: bool = False,
    replay: Replay | None = None,
) -> None:
    """Replay every pending item of the batch, at most batch.concurrency at a time (and at
    most GATEWAY_MAX_BATCH_CONCURRENCY of all batches together)."""
    if replay is None:
        from replays.core import replay
    # The batch's ORM calls (and its replays') get a thread of their own, not the one sync
    # thread that serves all /v1/ traffic; its connection is closed before that thread ends.
    async with ThreadSensitiveContext():
        try:
            await _run(batch_id, replay, headers=headers, user=user, authenticate=authenticate)
        finally:
            await orm(connections.close_all)()  # this context's thread's connections only


async def _run(batch_id: int, replay: Replay, **options) -> None:
    try:
        batch, pending = await orm(_pending)(batch_id)
        rule = Rule(batch.agreement, batch.pattern)
        gate = asyncio.Semaphore(batch.concurrency)
        beat = asyncio.create_task(_heartbeat(batch_id))

        async def one(item: BatchItem) -> None:
            async with gate, loop.gate():  # the batch's bound, then the process's
                if await orm(_started)(item):
                    await _replay_item(item, batch, rule, replay, options)

        try:
            await asyncio.gather(*(one(item) for item in pending))
        finally:
            beat.cancel()
        await orm(_finish)(batch_id)
    except Exception:
        log.exception("Bulk replay %s stopped", batch_id)
        raise


def _pending(batch_id: int) -> tuple[Batch, list[BatchItem]]:
    batch = Batch.objects.get(pk=batch_id)
    items = BatchItem.objects.filter(batch_id=batch_id, status=BatchItem.Status.PENDING)
    return batch, list(items.only("id", "batch_id", "original_id", "target"))


async def _heartbeat(batch_id: int) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT)
        await orm(_beat)(batch_id)


def _beat(batch_id: int) -> None:
    Batch.objects.filter(pk=batch_id, status=Batch.Status.RUNNING).update(
        heartbeat_at=timezone.now()
    )


def _started(item: BatchItem) -> bool:
    """Mark the item in flight, unless its batch was cancelled (or the item taken)."""
    if not Batch.objects.filter(pk=item.batch_id, status=Batch.Status.RUNNING).exists():
        return False
    pending = BatchItem.objects.filter(pk=item.pk, status=BatchItem.Status.PENDING)
    return bool(pending.update(status=BatchItem.Status.RUNNING))


async def _replay_item(item: BatchItem, batch: Batch, rule: Rule, replay: Replay, options) -> None:
    target = batch.targets[item.target]
    fields: dict[str, Any] = {}
    try:
        original = await orm(RequestLog.objects.get)(pk=item.original_id)
        result = await replay(
            original, provider=target["provider"], model=target.get("model"), **options
        )
        body = result.response
        text = answer_text(body)
        failed = not 200 <= (result.status or 0) < 300
        fields = {
            "request_id": result.request_id or "",
            "status_code": result.status,
            "latency_ms": result.latency_ms,
            "answer": text,
            "error": _error_message(body) if failed else "",
            "agreed": None if failed else _agreed(rule, original, text, body),
        }
    except Exception as exc:  # the replay could not be made: the item says why
        if not isinstance(exc, GatewayError | RequestLog.DoesNotExist):
            log.warning("Bulk replay %s item %s failed", batch.pk, item.pk, exc_info=True)
        failed = True
        fields = {"error": (str(exc) or type(exc).__name__)[:_ERROR_CHARS], "agreed": None}
    status = BatchItem.Status.FAILED if failed else BatchItem.Status.DONE
    await orm(_record)(item.pk, batch.pk, status, fields)


def _agreed(rule: Rule, original: RequestLog, text: str, body: object) -> bool | None:
    if not 200 <= original.status_code < 300:
        return None  # the original has no answer to agree with
    mine = answer_text(original.response_body)
    return agrees(rule, mine, text, original_body=original.response_body, replayed_body=body)


def _error_message(body: object) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    return str(message or "The replay failed.")[:_ERROR_CHARS]


def _record(item_id: int, batch_id: int, status: str, fields: dict) -> None:
    with transaction.atomic():
        BatchItem.objects.filter(pk=item_id).update(status=status, **fields)
        failed = F("failed") + 1 if status == BatchItem.Status.FAILED else F("failed")
        Batch.objects.filter(pk=batch_id).update(done=F("done") + 1, failed=failed)


def _finish(batch_id: int) -> None:
    """Done when nothing is left pending (a cancelled batch stays cancelled)."""
    left = BatchItem.objects.filter(batch_id=batch_id).exclude(
        status__in=(BatchItem.Status.DONE, BatchItem.Status.FAILED)
    )
    if not left.exists():
        Batch.objects.filter(pk=batch_id, status=Batch.Status.RUNNING).update(
            status=Batch.Status.DONE, finished_at=timezone.now()
        )
