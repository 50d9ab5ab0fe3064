"""A batch's progress and results as the API answers them and the batch page shows them:
per record the original answer and each target's, per target how often it agreed."""

from __future__ import annotations

from dataclasses import dataclass, field

from batches import runner
from batches.agreement import Rule, Tally, answer_text
from batches.models import Batch, BatchItem
from gateway.models import RequestLog


@dataclass
class Row:
    """One original record and its replays, one per target (None: that item is gone)."""

    log_id: int | None
    request_id: str = ""
    provider: str = ""
    model: str = ""
    status_code: int | None = None
    answer: str = ""
    replays: list[dict | None] = field(default_factory=list)


@dataclass
class Results:
    batch: Batch
    tallies: list[Tally]
    rows: list[Row]

    @property
    def rule(self) -> Rule:
        return Rule(self.batch.agreement, self.batch.pattern)

    @property
    def percent(self) -> int:
        return int(100 * self.batch.done / self.batch.total) if self.batch.total else 100

    @property
    def active(self) -> bool:
        return self.batch.status == Batch.Status.RUNNING

    @property
    def targets(self) -> list[tuple[dict, Tally]]:
        return list(zip(self.batch.targets, self.tallies, strict=True))


def results(batch: Batch) -> Results:
    batch = runner.note_stale(batch)
    items = list(batch.items.order_by("id"))
    originals = {
        log.id: log
        for log in RequestLog.objects.filter(id__in={i.original_id for i in items}).only(
            "id", "request_id", "provider", "model", "status_code", "response_body"
        )
    }
    replay_ids = dict(
        RequestLog.objects.filter(
            request_id__in=[i.request_id for i in items if i.request_id]
        ).values_list("request_id", "id")
    )
    tallies = [Tally() for _ in batch.targets]
    rows: dict[object, Row] = {}
    for item in items:
        key = item.original_id if item.original_id is not None else f"gone-{item.id}"
        row = rows.get(key)
        if row is None:
            row = rows[key] = _row(originals.get(item.original_id), len(batch.targets))
        row.replays[item.target] = _replay(item, replay_ids.get(item.request_id))
        if item.status in (BatchItem.Status.DONE, BatchItem.Status.FAILED):
            failed = item.status == BatchItem.Status.FAILED
            tallies[item.target].add(failed=failed, agreed=item.agreed)
    return Results(batch, tallies, list(rows.values()))


def _row(log: RequestLog | None, targets: int) -> Row:
    if log is None:
        return Row(log_id=None, replays=[None] * targets)
    return Row(
        log_id=log.id,
        request_id=log.request_id,
        provider=log.provider,
        model=log.model,
        status_code=log.status_code,
        answer=answer_text(log.response_body),
        replays=[None] * targets,
    )


def _replay(item: BatchItem, log_id: int | None) -> dict:
    return {
        "target": item.target,
        "status": item.status,
        "request_id": item.request_id or None,
        "log_id": log_id,  # null until the log writer saved the replay's record
        "status_code": item.status_code,
        "latency_ms": item.latency_ms,
        "answer": item.answer,
        "agreed": item.agreed,
        "error": item.error or None,
    }


def as_json(found: Results) -> dict:
    batch = found.batch
    return {
        "id": batch.id,
        "object": "replay.batch",
        "status": batch.status,
        "total": batch.total,
        "done": batch.done,
        "failed": batch.failed,
        "created_at": batch.created_at.isoformat(),
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
        "created_by": batch.created_by,
        "filter": batch.query,
        "limit": batch.limit,
        "concurrency": batch.concurrency,
        "agreement": batch.agreement,
        "pattern": batch.pattern or None,
        "targets": [
            {
                **target,
                "done": tally.done,
                "failed": tally.failed,
                "compared": tally.compared,
                "agreed": tally.agreed,
                "agreement_rate": tally.rate,
            }
            for target, tally in found.targets
        ],
        "records": [
            {
                "log_id": row.log_id,
                "request_id": row.request_id or None,
                "provider": row.provider,
                "model": row.model,
                "status_code": row.status_code,
                "answer": row.answer,
                "replays": row.replays,
            }
            for row in found.rows
        ],
    }
