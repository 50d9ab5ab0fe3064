"""Issue 12, observations 3 and 4 against a real server with real faults: the blob and journal
disk full mid-burst then freed, the database read-only or write-locked mid-burst. Each time
every answered request must end up with a record, without a restart, and none set aside.

The tmpfs and mount tests need root (CI runs as root) and skip otherwise."""

import asyncio
import contextlib
import os

import pytest

from tests.conftest import IrisServer
from tests.faults import (
    Burst,
    FaultUnavailable,
    HealthWatch,
    fill,
    healthz,
    hold,
    image_body,
    photo_variants,
    read_only,
    sqlite_count,
    text_body,
    tmpfs,
    wait_for,
    wait_healthy,
    wait_until_logged,
    write_locked,
)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@contextlib.contextmanager
def fault_or_skip():
    try:
        yield
    except FaultUnavailable as exc:
        pytest.skip(str(exc))


def answered(answers) -> set[str]:
    return {a.request_id for a in answers if a.status is not None}


@needs_root
def test_blob_and_journal_disk_full_mid_burst_then_freed_loses_nothing(tmp_path, fake_openai):
    upstream = f"{fake_openai.url}/v1"
    with fault_or_skip(), tmpfs(tmp_path / "fs", "2m") as fs:
        server = IrisServer(
            tmp_path,
            DATABASE_URL=f"sqlite:///{tmp_path / 'iris.sqlite3'}",
            BLOB_STORAGE_DIR=str(fs / "blobs"),
            LOG_SPOOL_DIR=str(fs / "spool"),
        ).start()
        try:
            # Nearly full: 16 distinct photos (830 KB of blobs) cannot all be stored.
            filler = fill(fs, leave=200_000)
            bodies = [image_body(img, f"full {i}") for i, img in enumerate(photo_variants(16))]
            with HealthWatch(server) as watch:
                burst = Burst(server, upstream, "disk-full", concurrency=8, rate=20)
                answers = asyncio.run(burst.run(bodies * 4))
                assert [a.status for a in answers] == [200] * 64  # proxied all the same
                wait_for(lambda: watch.statuses and watch.statuses[-1] == 503, 15)
                stuck = watch.seen[-1][2]
                filler.unlink()  # space freed: no restart
                missing = wait_until_logged(server, "disk-full", answered(answers), 45)
                status, health = wait_healthy(server, 30)
            assert not missing, f"{len(missing)} of 64 answered requests have no record"
            assert 503 in watch.statuses, "healthz never told that records were stuck"
            assert stuck["waiting_for"] == "blob storage unavailable", stuck
            assert status == 200, health

            # Later requests are logged too.
            later = [
                image_body(img, f"later {i}") for i, img in enumerate(photo_variants(8, seed=1))
            ]
            answers = asyncio.run(Burst(server, upstream, "disk-freed", concurrency=8).run(later))
            assert not wait_until_logged(server, "disk-freed", answered(answers), 30)
            log = healthz(server)[1]["log_writer"]
            assert log["set_aside"] == 0
            database = tmp_path / "iris.sqlite3"
            # They waited whole: none degraded, every image stored.
            assert (
                sqlite_count(
                    database, "SELECT count(*) FROM gateway_requestlog WHERE degraded != ''"
                )
                == 0
            )
            assert (
                sqlite_count(
                    database, "SELECT count(*) FROM gateway_logimage WHERE blob_id IS NULL"
                )
                == 0
            )
        finally:
            server.stop()


@needs_root
def test_database_read_only_5_s_mid_burst_loses_nothing(tmp_path, fake_openai):
    with fault_or_skip(), tmpfs(tmp_path / "db", "64m") as folder:
        database = folder / "iris.sqlite3"
        # Opened afresh for each use, so that the read-only mount applies to the writer
        # (see tests/faults.py read_only: a file already open for writing stays writable).
        server = IrisServer(
            tmp_path, DATABASE_URL=f"sqlite:///{database}", DATABASE_CONN_MAX_AGE="0"
        ).start()
        try:
            answers, window = asyncio.run(
                _burst_with_fault(server, fake_openai, "read-only", lambda: read_only(folder), 5)
            )
            missing = wait_until_logged(server, "read-only", answered(answers), 45)
            assert not missing, f"{len(missing)} of {len(answers)} answered requests lost"
            assert sum(window.covers(a) for a in answers) > 50  # the fault was mid-burst
            assert healthz(server)[1]["log_writer"]["set_aside"] == 0
        finally:
            server.stop()


def test_database_write_locked_10_s_mid_burst_loses_nothing(tmp_path, fake_openai):
    database = tmp_path / "iris.sqlite3"
    server = IrisServer(tmp_path, DATABASE_URL=f"sqlite:///{database}").start()
    try:
        answers, window = asyncio.run(
            _burst_with_fault(server, fake_openai, "locked", lambda: write_locked(database), 10)
        )
        during = [a.latency for a in answers if window.covers(a)]
        print(f"proxy latency while the database was write-locked: max {max(during):.3f} s")
        missing = wait_until_logged(server, "locked", answered(answers), 45)
        assert not missing, f"{len(missing)} of {len(answers)} answered requests lost"
        assert len(during) > 100
        assert healthz(server)[1]["log_writer"]["set_aside"] == 0
    finally:
        server.stop()


async def _burst_with_fault(server, fake_openai, trace, fault, seconds):
    """About 14 s of requests at 30/s, the fault held `seconds` from the 2nd second."""
    burst = Burst(server, f"{fake_openai.url}/v1", trace, concurrency=16, rate=30)
    bodies = [text_body(i) for i in range(int((seconds + 4) * 30))]
    answers, window = await asyncio.gather(burst.run(bodies), hold(fault, 2, seconds))
    return answers, window
