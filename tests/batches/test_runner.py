"""The bulk replay runner (batches/runner.py): records chosen by a logs filter, replays run at
most `concurrency` at a time, progress and agreement in the database, cancel and resume."""

import asyncio
import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.utils import timezone

from batches import loop, runner
from batches.agreement import Rule
from batches.models import Batch, BatchItem
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.logquery import LogFilter
from tests.ui.logs import make_log

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("thread_db")]


@pytest.fixture
async def thread_db():
    """The async ORM calls run in asgiref's one sync thread: its connection is closed at the
    end, or PostgreSQL cannot drop the test database."""
    yield
    await sync_to_async(connections.close_all)()


@dataclass
class Answer:
    request_id: str
    status: int
    response: dict
    latency_ms: float | None = 12.0


def completion(text: str) -> dict:
    return {"object": "chat.completion", "choices": [{"message": {"content": text}}]}


def logs(n: int, trace: str = "t-batch", reply: str = "A cat.") -> list:
    return [make_log(f"prompt {i}", reply, trace_id=trace) for i in range(n)]


def batch_of(*, targets=None, limit=50, concurrency=3, rule=None, trace="t-batch"):
    return runner.create(
        LogFilter(trace_id=trace),
        query=f"trace_id={trace}",
        source="api",
        targets=targets or [{"provider": "openai", "model": None}],
        limit=limit,
        concurrency=concurrency,
        rule=rule or Rule("exact"),
        created_by="test",
    )


async def test_no_more_than_concurrency_replays_are_in_flight():
    await sync_to_async(logs)(12)
    batch = await sync_to_async(batch_of)(concurrency=3)
    in_flight = peak = 0
    full = asyncio.Event()

    async def replay(log, *, provider, model, **options):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight >= 3:
            full.set()
        await full.wait()  # without the bound every task would be inside by now
        await asyncio.sleep(0)
        in_flight -= 1
        return Answer(f"r{log.id}", 200, completion("A cat."))

    await runner.run(batch.id, replay=replay)
    assert peak == 3
    batch = await Batch.objects.aget(pk=batch.id)
    assert (batch.status, batch.total, batch.done, batch.failed) == ("done", 12, 12, 0)
    assert await BatchItem.objects.filter(batch=batch, agreed=True).acount() == 12


async def test_all_batches_together_stay_under_the_process_bound(settings):
    """50 API batches × their own concurrency would be hundreds of replays at once: one bound
    (GATEWAY_MAX_BATCH_CONCURRENCY) holds for every batch of the process together."""
    settings.GATEWAY_MAX_BATCH_CONCURRENCY = 4
    await sync_to_async(logs)(6, trace="t-one")
    await sync_to_async(logs)(6, trace="t-two")
    one = await sync_to_async(batch_of)(concurrency=3, trace="t-one")
    two = await sync_to_async(batch_of)(concurrency=3, trace="t-two")
    in_flight = peak = 0
    full, release = asyncio.Event(), asyncio.Event()

    async def replay(log, *, provider, model, **options):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight >= 4:
            full.set()
        await release.wait()
        in_flight -= 1
        return Answer(f"r{log.id}", 200, completion("A cat."))

    async def hold() -> None:
        """Keep 4 replays in flight until the other 2 that the batches' own bounds let go
        (3 + 3) are queued at the process's gate, or one more got in."""
        try:
            await full.wait()
            while in_flight <= 4 and loop.gate().waiting < 2:
                await asyncio.sleep(0.001)
        finally:
            release.set()

    holding = asyncio.create_task(hold())
    await asyncio.gather(runner.run(one.id, replay=replay), runner.run(two.id, replay=replay))
    await holding
    assert peak == 4
    for batch in (one, two):
        batch = await Batch.objects.aget(pk=batch.id)
        assert (batch.status, batch.done, batch.failed) == ("done", 6, 0)


async def test_a_batch_works_on_its_own_db_thread_and_closes_only_its_connection():
    """The lean /v1/ handler's ORM calls share asgiref's one sync thread: a batch must not
    queue its database work on it, nor close the connection that traffic is using."""

    def shared_thread() -> int:
        connection.ensure_connection()
        return threading.get_ident()

    traffic = await sync_to_async(shared_thread)()
    await sync_to_async(logs)(2)
    batch = await sync_to_async(batch_of)()
    seen = set()

    async def replay(log, **options):
        seen.add(await orm(threading.get_ident)())
        return Answer("r", 200, completion("A cat."))

    await runner.run(batch.id, replay=replay)
    assert await sync_to_async(lambda: connection.connection is not None)()  # not closed
    assert len(seen) == 1 and traffic not in seen
    assert (await Batch.objects.aget(pk=batch.id)).status == "done"


async def test_items_keep_answers_agreement_and_failures_per_target():
    originals = await sync_to_async(logs)(3)
    targets = [{"provider": "openai", "model": "a"}, {"provider": "openai", "model": "b"}]
    batch = await sync_to_async(batch_of)(targets=targets)

    async def replay(log, *, provider, model, headers, user, authenticate):
        assert (headers, user, authenticate) == ({"x": "1"}, "ann", True)
        if model == "b" and log.id == originals[0].id:
            raise GatewayError(409, "An image's bytes are gone.", code="image_not_stored")
        if model == "b":
            return Answer("rb", 429, {"error": {"message": "Rate limit reached"}})
        text = "A cat." if log.id != originals[2].id else "A dog."
        return Answer(f"ra{log.id}", 200, completion(text))

    await runner.run(batch.id, headers={"x": "1"}, user="ann", authenticate=True, replay=replay)
    batch = await Batch.objects.aget(pk=batch.id)
    assert (batch.status, batch.done, batch.failed) == ("done", 6, 3)
    a = [i async for i in BatchItem.objects.filter(batch=batch, target=0).order_by("original_id")]
    assert [i.agreed for i in a] == [True, True, False]
    assert a[2].answer == "A dog." and a[2].request_id == f"ra{originals[2].id}"
    b = {i.original_id: i async for i in BatchItem.objects.filter(batch=batch, target=1)}
    assert b[originals[0].id].error == "An image's bytes are gone."
    assert b[originals[1].id].error == "Rate limit reached"
    assert b[originals[1].id].status_code == 429
    assert all(i.status == "failed" and i.agreed is None for i in b.values())


async def test_an_original_that_failed_is_not_compared():
    await sync_to_async(make_log)(
        "p", None, status=500, trace_id="t-err", error=GatewayError(500, "boom")
    )
    batch = await sync_to_async(batch_of)(trace="t-err")

    async def replay(log, **options):
        return Answer("r", 200, completion("fine"))

    await runner.run(batch.id, replay=replay)
    item = await BatchItem.objects.aget(batch=batch)
    assert (item.status, item.agreed, item.answer) == ("done", None, "fine")


def test_the_limit_takes_the_newest_records_and_past_the_setting_is_an_error(settings):
    made = logs(5)
    batch = batch_of(limit=2)
    chosen = sorted(batch.items.values_list("original_id", flat=True))
    assert chosen == sorted(log.id for log in made[-2:])
    settings.GATEWAY_MAX_BATCH_RECORDS = 10
    with pytest.raises(runner.BatchError, match="GATEWAY_MAX_BATCH_RECORDS"):
        runner.bounded("limit", 11, 50, runner.max_records(), "GATEWAY_MAX_BATCH_RECORDS")
    with pytest.raises(runner.BatchError, match="No records match"):
        batch_of(trace="nothing-here")
    with pytest.raises(runner.BatchError, match="No provider @nope"):
        runner.parse_targets([{"provider": "@nope"}])


async def test_a_cancelled_batch_starts_nothing_more():
    await sync_to_async(logs)(4)
    batch = await sync_to_async(batch_of)(concurrency=1)
    calls = []

    async def replay(log, **options):
        calls.append(log.id)
        await sync_to_async(runner.cancel)(batch.id)  # stopped during its first replay
        return Answer("r", 200, completion("A cat."))

    await runner.run(batch.id, replay=replay)
    assert len(calls) == 1
    batch = await Batch.objects.aget(pk=batch.id)
    assert (batch.status, batch.done) == ("cancelled", 1)
    assert await BatchItem.objects.filter(batch=batch, status="pending").acount() == 3


async def test_a_batch_whose_runner_went_quiet_shows_interrupted_and_resumes():
    await sync_to_async(logs)(3)
    batch = await sync_to_async(batch_of)()
    first = await BatchItem.objects.filter(batch=batch).order_by("id").afirst()
    # As a killed process leaves it: one item done, one in flight, one pending, no heartbeat.
    await BatchItem.objects.filter(pk=first.pk).aupdate(status="done", agreed=True, answer="A cat.")
    second = await BatchItem.objects.filter(batch=batch, pk__gt=first.pk).order_by("id").afirst()
    await BatchItem.objects.filter(pk=second.pk).aupdate(status="running")
    old = timezone.now() - timedelta(seconds=runner.STALE_SECONDS + 5)
    await Batch.objects.filter(pk=batch.id).aupdate(done=1, heartbeat_at=old)

    assert await sync_to_async(runner.claim)(batch.id)  # what resume does
    batch = await Batch.objects.aget(pk=batch.id)
    assert batch.status == "running"
    assert await BatchItem.objects.filter(batch=batch, status="running").acount() == 0
    seen = []

    async def replay(log, **options):
        seen.append(log.id)
        return Answer("r", 200, completion("A cat."))

    await runner.run(batch.id, replay=replay)
    batch = await Batch.objects.aget(pk=batch.id)
    assert (batch.status, batch.done, len(seen)) == ("done", 3, 2)


def test_note_stale_marks_a_quiet_running_batch_interrupted():
    logs(1)
    batch = batch_of()
    assert runner.note_stale(batch).status == "running"  # its heartbeat is fresh
    assert not runner.claim(batch.id)  # a live runner's batch is not taken over
    Batch.objects.filter(pk=batch.id).update(
        heartbeat_at=timezone.now() - timedelta(seconds=runner.STALE_SECONDS + 1)
    )
    batch.refresh_from_db()
    assert runner.note_stale(batch).status == "interrupted"
    assert Batch.objects.get(pk=batch.id).status == "interrupted"
    assert runner.claim(batch.id) and not runner.claim(batch.id)
